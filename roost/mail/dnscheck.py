"""The DNS records a sending domain needs (SPF, DKIM, DMARC, return path) and whether live
DNS has them (dnspython; the resolver is configurable so tests use their own server)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from roost.mail.domains import BOUNCE_LABEL


@dataclass(frozen=True)
class Record:
    """One record to publish, and what live DNS says about it."""

    purpose: str
    type: str
    name: str
    value: str
    status: str = "unchecked"  # ok | missing | differs | unchecked
    found: list[str] = field(default_factory=list)


def expected(domain: str, selector: str, dkim_value: str, hostname: str,
             relay: str = "") -> list[Record]:
    """The records ``domain`` should have for mail sent by this Roost."""
    relay_host = urlsplit(relay).hostname if relay else None
    spf = f"v=spf1 a:{hostname}" + (f" a:{relay_host}" if relay_host else "") + " ~all"
    bounce = f"{BOUNCE_LABEL}.{domain}"
    return [
        Record("spf", "TXT", domain, spf),
        Record("dkim", "TXT", f"{selector}._domainkey.{domain}", dkim_value),
        Record("dmarc", "TXT", f"_dmarc.{domain}",
               f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}"),
        Record("return-path", "MX", bounce, f"10 {hostname}."),
        Record("return-path spf", "TXT", bounce, spf),
    ]


def _lookup(name: str, kind: str, resolver_address: str) -> list[str] | None:
    """The values at ``name`` (empty when none), or None when DNS could not be asked."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not resolver_address)
    if resolver_address:
        host, _, port = resolver_address.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = 3.0
    try:
        answer = resolver.resolve(name, kind)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException:
        return None
    if kind == "TXT":
        return [b"".join(r.strings).decode(errors="replace") for r in answer]
    return [r.to_text() for r in answer]


def _matches(record: Record, value: str) -> bool:
    if record.purpose == "dkim":
        want = record.value.partition("p=")[2]
        return value.replace(" ", "").partition("p=")[2].rstrip(";") == want
    if record.purpose.endswith("spf"):
        return value.startswith("v=spf1") and all(
            part in value.split() for part in record.value.split()[1:-1])
    if record.purpose == "dmarc":
        return value.startswith("v=DMARC1")
    return value.rstrip(".").split()[-1].lower() == record.value.rstrip(".").split()[-1]


def check(records: list[Record], resolver: str) -> list[Record]:
    """Each record with what live DNS holds (``resolver``: "" system, IP[:PORT], "off")."""
    if resolver == "off":
        return records
    checked = []
    for record in records:
        found = _lookup(record.name, record.type, resolver)
        if found is None:
            checked.append(record)
            continue
        status = "missing" if not found else \
            "ok" if any(_matches(record, v) for v in found) else "differs"
        checked.append(replace(record, status=status, found=found))
    return checked


def problems(records: list[Record]) -> list[str]:
    """One line per record that did not check out."""
    return [f"{r.purpose} {r.type} {r.name} is missing" if r.status == "missing" else
            f"{r.purpose} {r.type} {r.name} has {'; '.join(r.found)[:200]}, not {r.value[:80]}"
            for r in records if r.status in ("missing", "differs")]
