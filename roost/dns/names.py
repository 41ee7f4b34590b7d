"""What a zone, a record name, a type, a TTL and a value may be, checked before anything is
sent anywhere; values written as zone-file text become octoDNS record data.

Every refusal is one line that says what to write instead. octoDNS's own validation
(``Record.new``) runs last, so a value it would refuse is refused here, not at the provider.
"""

from __future__ import annotations

import re
from typing import Any

from roost.errors import InvalidInput

LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
ZONE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TTL_MIN, TTL_MAX = 1, 604_800  # one second .. one week
# Types a record may have in Roost (the provider's own list narrows it further).
TYPES = ("A", "AAAA", "ALIAS", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT", "SPF", "DS",
         "SSHFP", "TLSA", "NAPTR", "Route53Provider/ALIAS")
ROUTE53_ALIAS = "Route53Provider/ALIAS"  # value text: "NAME TYPE [HOSTED-ZONE-ID]"
_CANONICAL = {t.upper(): t for t in TYPES}
TARGETS = ("CNAME", "ALIAS", "NS", "PTR")  # types whose value is a host name
OWNERSHIP_PREFIX = "_owner"  # the names of octoDNS's ownership TXT records (ours: "roost")


def zone_name(value: str) -> str:
    """A zone name in lower case without the final dot, e.g. ``example.com``."""
    name = value.strip().lower().rstrip(".")
    if not ZONE.fullmatch(name):
        raise InvalidInput(f"invalid zone name {value!r}: give a domain like example.com")
    return name


def record_name(value: str, zone: str) -> str:
    """A name relative to ``zone`` ('' for the apex, written ``@``); a full name in the zone
    (``www.example.com``) is accepted too."""
    name = value.strip().lower().rstrip(".")
    if name in ("@", "", zone):
        return ""
    if name.endswith("." + zone):
        name = name[: -len(zone) - 1]
    labels = name.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        labels = labels[1:]
    if len(name) + len(zone) + 1 > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise InvalidInput(f"invalid record name {value!r}: use letters, digits, '-' and '_' in "
                           "labels of at most 63 characters, '@' for the apex")
    if name.split(".")[0].startswith(OWNERSHIP_PREFIX):
        raise InvalidInput(f"{value!r} is the name of Roost's ownership records: choose another")
    return name


def type_name(value: str) -> str:
    """A record type as octoDNS spells it (``a`` -> ``A``, ``route53provider/alias`` ->
    ``Route53Provider/ALIAS``); an unknown type in upper case."""
    return _CANONICAL.get(value.strip().upper(), value.strip().upper())


def record_type(value: str, supported: frozenset[str] | set[str], provider: str) -> str:
    """An upper-case record type that both Roost and the zone's provider support."""
    kind = _CANONICAL.get(value.strip().upper(), "")
    if not kind:
        raise InvalidInput(f"unknown record type {value!r}: use one of {', '.join(TYPES)}")
    if kind not in supported:
        raise InvalidInput(f"{provider} does not support {kind} records: use one of "
                           f"{', '.join(t for t in TYPES if t in supported)}")
    return kind


def ttl(value: int) -> int:
    """A TTL in seconds within what every provider accepts."""
    if not TTL_MIN <= value <= TTL_MAX:
        raise InvalidInput(f"TTL {value} is out of range: give {TTL_MIN} to {TTL_MAX} seconds")
    return value


def _escape_semicolons(text: str) -> str:
    return re.sub(r"(?<!\\);", r"\\;", text)


def _one(kind: str, text: str) -> Any:
    from octodns.record import Record

    cls = Record.registered_types()[kind]
    value_type = cls._value_type
    if kind in ("TXT", "SPF"):
        return _escape_semicolons(text)
    if kind == ROUTE53_ALIAS:
        return route53_alias_value(text)
    parse = getattr(value_type, "from_rdata_text", None) or value_type.parse_rdata_text
    parsed = parse(text)
    return dict(parsed) if isinstance(parsed, dict) else str(parsed)


def route53_alias_value(text: str) -> dict[str, Any]:
    """A Route53 alias value from ``NAME TYPE [HOSTED-ZONE-ID]``: a record of the same zone
    (``@`` its apex, ``www``) or an AWS service's name with its hosted zone id."""
    parts = text.split()
    if len(parts) not in (2, 3) or parts[1].upper() not in ("A", "AAAA", "CNAME", "MX", "TXT"):
        raise ValueError("write NAME TYPE [HOSTED-ZONE-ID], e.g. 'www A' or "
                         "'my-lb.elb.amazonaws.com. A Z35SXDOTRQ7X7K'")
    name = "" if parts[0] == "@" else parts[0].lower()
    value: dict[str, Any] = {"name": name, "type": parts[1].upper(),
                             "evaluate-target-health": False}
    if len(parts) == 3:
        value["hosted-zone-id"] = parts[2]
    return value


def values_data(kind: str, texts: list[str]) -> dict[str, Any]:
    """octoDNS data (``value`` or ``values``) for values written as zone-file text."""
    if not texts:
        raise InvalidInput(f"give at least one value for the {kind} record")
    try:
        parsed = [_one(kind, t.strip()) for t in texts]
    except Exception as exc:  # octoDNS's parsers raise plain exceptions
        raise InvalidInput(f"cannot read {kind} value {' '.join(texts)!r}: {exc}") from exc
    for value in parsed:
        target = value.get("exchange") or value.get("target") if isinstance(value, dict) else (
            value if kind in TARGETS else None)
        if target and not str(target).endswith("."):
            raise InvalidInput(f"the {kind} target {target!r} needs its final dot: write "
                               f"{target}. (a name in this zone too: www.example.com.)")
    if kind in ("CNAME", "ALIAS"):
        if len(parsed) > 1:
            raise InvalidInput(f"a {kind} record has exactly one value, got {len(parsed)}")
        return {"value": parsed[0]}
    return {"values": parsed}


def check_record(zone: str, name: str, kind: str, ttl_s: int, data: dict[str, Any]) -> Any:
    """The octoDNS record, or a refusal of what octoDNS would refuse (a CNAME at the apex, a
    bad address, a target without its final dot) with octoDNS's own reasons, in one line."""
    from octodns.record import Record, ValidationError

    from roost.dns.records import new_zone

    if kind == "CNAME" and name == "":
        raise InvalidInput(f"a CNAME cannot be at the apex of {zone}: use ALIAS (where the "
                           "provider has it) or A/AAAA records")
    try:
        return Record.new(new_zone(zone), name, {"type": kind, "ttl": ttl_s, **data})
    except ValidationError as exc:
        reasons = "; ".join(str(r) for r in exc.reasons)
        raise InvalidInput(f"invalid {kind} record {name or '@'}.{zone}: {reasons}") from exc
    except Exception as exc:
        raise InvalidInput(f"invalid {kind} record {name or '@'}.{zone}: {exc}") from exc
