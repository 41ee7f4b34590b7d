"""Route53 through ``octodns-route53``, with change batches that keep to Route53's limits.

octodns-route53 splits a zone's changes into batches of fewer than ``max_changes`` (1,000)
resource records, which is half of Route53's rule: an UPSERT counts twice, and a batch may
hold at most 32,000 characters of values (UPSERTs again twice). :class:`RoostRoute53Provider`
splits each batch further where either limit would be passed, keeping the changes of one
record set in the same batch (a DELETE and its CREATE never straddle two requests), and
counts the batches it sends.

A plan of a few changed names reads only those names (:meth:`read_only`, :func:`read_names`):
listing a whole zone costs a request per 300 record sets.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from roost.errors import InvalidInput
from roost.settings import Settings

MAX_RECORDS = 1000  # ResourceRecord elements per change batch (UPSERT counts twice)
MAX_CHARS = 32_000  # characters of Value elements per change batch (UPSERT counts twice)
PAGE = 20  # record sets asked for per request when reading single names (Route53: <= 300)


def _weight(mod: dict[str, Any]) -> tuple[int, int]:
    """What one change costs against the limits: records, characters."""
    rrset = mod["ResourceRecordSet"]
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    factor = 2 if mod["Action"] == "UPSERT" else 1
    return factor * max(len(values), 1), factor * sum(len(v) for v in values)


def split(batch: list[dict[str, Any]], max_records: int = MAX_RECORDS,
          max_chars: int = MAX_CHARS) -> list[list[dict[str, Any]]]:
    """``batch`` in pieces within Route53's limits, each record set's changes together."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for mod in batch:
        rrset = mod["ResourceRecordSet"]
        key = (rrset["Name"], rrset["Type"], rrset.get("SetIdentifier", ""))
        groups.setdefault(key, []).append(mod)
    pieces: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    records = chars = 0
    for mods in groups.values():
        r = sum(_weight(m)[0] for m in mods)
        c = sum(_weight(m)[1] for m in mods)
        if current and (records + r > max_records or chars + c > max_chars):
            pieces.append(current)
            current, records, chars = [], 0, 0
        current.extend(mods)
        records += r
        chars += c
    if current:
        pieces.append(current)
    return pieces


_CLIENTS: dict[tuple[Any, ...], Any] = {}  # boto3 clients by credentials and endpoint
_CLIENTS_LOCK = threading.Lock()


@functools.cache
def provider_class() -> type:
    """The Route53 provider with Roost's batching (octodns-route53 imported on first use)."""
    from octodns_route53 import Route53Provider
    from octodns_route53.provider import _mod_keyer

    class RoostRoute53Provider(Route53Provider):
        """octodns-route53's provider; batches kept within every Route53 limit."""

        def __init__(self, *args: Any, endpoint_url: str | None = None,
                     region: str | None = None, **kwargs: Any) -> None:
            self._endpoint_url = endpoint_url
            self._region = region or "us-east-1"
            self.sent_batches: list[int] = []  # changes per request sent, in order
            super().__init__(*args, **kwargs)

        def client(self, *args: Any, **kwargs: Any) -> Any:
            """boto3's client, at the zone's endpoint (a Route53-compatible API) if given.

            One client per credentials and endpoint for the process's life: a new boto3
            session parses the service's model again (over a second of CPU), and clients
            are safe to share between threads."""
            if self._endpoint_url:
                kwargs["endpoint_url"] = self._endpoint_url
            kwargs.setdefault("region_name", self._region)
            key = (*(hashlib.sha256(str(a).encode()).hexdigest() for a in args),
                   *sorted(kwargs.items()))
            with _CLIENTS_LOCK:
                found = _CLIENTS.get(key)
                if found is None:
                    found = _CLIENTS[key] = super().client(*args, **kwargs)
            return found

        @property
        def health_checks(self) -> dict[str, Any]:
            """Route53's health checks (octoDNS's, for dynamic records); an endpoint that
            leaves out ``IsTruncated`` (moto does) is read as one page."""
            cached: dict[str, Any] | None = getattr(self, "_health_checks", None)
            if cached is None:  # octodns-route53's cache, filled on first use
                cached = {}
                start: dict[str, str] = {}
                while True:
                    resp = self._conn.list_health_checks(**start)
                    for check in resp["HealthChecks"]:
                        ref = check.get("CallerReference", "xxxxx")
                        if len(ref) > 4 and ref[4] == ":":
                            cached[check["Id"]] = check
                    if not resp.get("IsTruncated") or not resp.get("NextMarker"):
                        break
                    start["Marker"] = resp["NextMarker"]
                setattr(self, "_health_checks", cached)  # noqa: B010
            return cached

        def read_only(self, fqdns: Iterable[str]) -> None:
            """Read only the record sets at these names (not the whole zone) from now on."""
            self._only_names = sorted(set(fqdns))

        def _load_records(self, zone_id: str) -> list[dict[str, Any]]:
            only = getattr(self, "_only_names", None)
            if only is None or zone_id in self._r53_rrsets:
                return super()._load_records(zone_id)
            self._r53_rrsets[zone_id] = read_names(self._conn, zone_id, only)
            return self._r53_rrsets[zone_id]

        def _really_apply(self, batch: list[dict[str, Any]], zone_id: str) -> None:
            ordered = sorted(batch, key=_mod_keyer)
            for piece in split(ordered):
                super()._really_apply(piece, zone_id)
                self.sent_batches.append(len(piece))

    return RoostRoute53Provider


def _runs(sets: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Consecutive record sets grouped by name (compared without case, as Route53 does)."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for rrset in sets:
        name = rrset["Name"].lower()
        if runs and runs[-1][0] == name:
            runs[-1][1].append(rrset)
        else:
            runs.append((name, [rrset]))
    return runs


def _listing_key(fqdn: str) -> str:
    """Where Route53 lists a name: its labels reversed (``com.example.www``)."""
    return ".".join(reversed(fqdn.rstrip(".").split(".")))


def read_names(conn: Any, zone_id: str, fqdns: Iterable[str], page: int = PAGE
               ) -> list[dict[str, Any]]:
    """The record sets at exactly these names, and no others.

    Route53 lists a zone in its own order from a given name: a name's record sets, if it has
    any, come first, together. Each name is asked for from itself, in that order; an answer
    that also shows another wanted name whole (followed by a different name: a name and its
    ownership records are neighbours) spares that name a request of its own. Names are passed
    as written (Route53 compares them without case, moto with)."""
    wanted = {f.lower(): f for f in fqdns}
    done: set[str] = set()
    found: list[dict[str, Any]] = []
    for folded, fqdn in sorted(wanted.items(), key=lambda item: _listing_key(item[0])):
        if folded in done:
            continue
        start: dict[str, str] = {"StartRecordName": fqdn}
        pending: list[dict[str, Any]] = []  # a wanted name's sets that a page cut off
        while True:
            resp = conn.list_resource_record_sets(HostedZoneId=zone_id, MaxItems=str(page),
                                                  **start)
            runs = _runs(pending + resp["ResourceRecordSets"])
            cut = runs.pop() if resp.get("IsTruncated") and runs else None
            for name, sets in runs:
                if name in wanted and name not in done:
                    found += sets
                    done.add(name)
            if cut is None or cut[0] not in wanted or cut[0] in done:
                break
            pending = cut[1]
            start = {"StartRecordName": resp["NextRecordName"],
                     "StartRecordType": resp["NextRecordType"]}
            if resp.get("NextRecordIdentifier"):
                start["StartRecordIdentifier"] = resp["NextRecordIdentifier"]
        done.add(folded)  # found above, or absent: nothing at it where it would be
    return found


def build(settings: Settings, options: dict[str, str], *, update_threshold: float,
          delete_threshold: float) -> Any:
    """A Route53 provider with the zone's (or the settings') credentials."""
    key_id = options.get("access_key_id") or settings.dns_route53_access_key_id or None
    secret = options.get("secret_access_key") or settings.dns_route53_secret_access_key or None
    if bool(key_id) != bool(secret):
        raise InvalidInput("Route53 needs both an access key id and its secret: set "
                           "ROOST_DNS_ROUTE53_ACCESS_KEY_ID and ROOST_DNS_ROUTE53_SECRET_ACCESS_KEY"
                           " (or neither, to use the standard AWS credentials)")
    endpoint = options.get("endpoint_url") or settings.dns_route53_endpoint_url or None
    return provider_class()(
        "route53", access_key_id=key_id, secret_access_key=secret, endpoint_url=endpoint,
        region=options.get("region") or None, client_max_attempts=3,
        update_pcent_threshold=update_threshold, delete_pcent_threshold=delete_threshold,
        strict_supports=True, root_ns_warnings=False)
