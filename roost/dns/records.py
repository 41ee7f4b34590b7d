"""Records as octoDNS objects: a stored zone becomes an octoDNS ``Zone``, a record is shown as
zone-file text, and the records as applied are kept as a snapshot (the drift reference)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from roost.errors import InvalidInput

_READY = False


def octodns_ready() -> None:
    """Choose octoDNS's record validators once (its ``legacy`` set, what octodns-sync uses by
    default), so it does not warn about choosing them on every record."""
    global _READY
    if not _READY:
        from octodns.record import Record

        if not Record.validators.configured:
            Record.validators.enable_sets({"legacy"})
        _READY = True


@dataclass(frozen=True)
class RecordData:
    """One record set of a zone: name ('' is the apex), type, TTL, octoDNS data."""

    name: str
    type: str
    ttl: int
    data: dict[str, Any] = field(hash=False)
    owner: str = "user"

    @property
    def key(self) -> str:
        """``name TYPE``, unique in a zone."""
        return f"{self.name} {self.type}"


def new_zone(zone: str, *, trusted: bool = False) -> Any:
    """An empty octoDNS zone named ``zone`` (no final dot needed).

    ``trusted``: a zone to plan with, whose record validators are all turned off (octoDNS's
    per-zone ``validators`` setting, which the provider's reading of the live zone inherits).
    Roost's records were validated on their way into the store, and octoDNS reads the live
    records leniently (an invalid one is only logged), so validating each of them again is
    cost without effect: a good part of the time of planning a large zone."""
    octodns_ready()
    from octodns.zone import Zone

    return Zone(zone.rstrip(".") + ".", [], validators=_all_off() if trusted else None)


@functools.cache
def _all_off() -> dict[str, Any]:
    """octoDNS's zone ``validators`` setting that turns off every record and value validator
    it may turn off (those of its bridge, named ``_…``, always run)."""
    from octodns.record import Record

    octodns_ready()
    ids: dict[str, set[str]] = {}
    for registry in (Record.validators.active_record, Record.validators.active_value):
        for kind, found in registry.items():
            ids.setdefault(kind, set()).update(v.id for v in found.values()
                                               if not v.id.startswith("_"))
    return {"record": {"disable_validators": {k: sorted(v) for k, v in ids.items()}}}


def to_zone(zone: str, records: Iterable[RecordData]) -> Any:
    """An octoDNS ``Zone`` holding ``records``.

    Records come from the store, where octoDNS validated each one on its way in
    (``names.check_record``, ``yamlio.load``): they are built without validating them again,
    which is most of the cost of a plan of a large zone."""
    from octodns.record import Record

    found = new_zone(zone, trusted=True)
    classes = Record.registered_types()
    for r in records:
        found.add_record(classes[r.type](found, r.name, {"type": r.type, "ttl": r.ttl,
                                                         **r.data}))
    return found


def from_record(record: Any, owner: str = "user") -> RecordData:
    """The :class:`RecordData` of an octoDNS record."""
    data = dict(record.data)
    ttl = int(data.pop("ttl"))
    data.pop("octodns", None)
    return RecordData(record.name, record._type, ttl, data, owner)


def rdata(record: Any) -> tuple[int, list[str]]:
    """An octoDNS record's TTL and values as zone-file text (a Route53 alias, which has no
    zone-file form, as ``NAME TYPE [HOSTED-ZONE-ID]``, what `roost dns set` takes)."""
    if record._type == "Route53Provider/ALIAS":
        return int(record.ttl), [" ".join(p for p in (v.name or "@", v._type,
                                                      v.hosted_zone_id or "") if p)
                                 for v in record.values]
    rrset = record.to_rrset()
    return int(rrset.ttl), [str(v) for v in rrset.rdatas]


def texts(zone: str, record: RecordData) -> list[str]:
    """The record's values as zone-file text."""
    return rdata(to_zone(zone, [record]).records.pop())[1]


def view(zone: str, record: RecordData) -> dict[str, Any]:
    """What the API shows of a record."""
    return {"name": record.name or "@", "fqdn": f"{record.name}.{zone}" if record.name else zone,
            "type": record.type, "ttl": record.ttl, "values": texts(zone, record),
            "owner": record.owner}


def snapshot(records: Iterable[RecordData]) -> dict[str, Any]:
    """The records as a JSON document (the state last applied)."""
    return {r.key: {"ttl": r.ttl, "data": r.data, "owner": r.owner} for r in records}


def from_snapshot(snap: dict[str, Any] | None) -> list[RecordData]:
    """The records of a snapshot made by :func:`snapshot`."""
    out = []
    for key, item in (snap or {}).items():
        name, _, kind = key.rpartition(" ")
        out.append(RecordData(name, kind, int(item["ttl"]), dict(item["data"]),
                              item.get("owner", "user")))
    return out


def check_coexistence(existing: Iterable[RecordData], name: str, kind: str, zone: str) -> None:
    """A CNAME stands alone at its name: refuse one beside other records, or others beside
    one."""
    others = {r.type for r in existing if r.name == name and r.type != kind}
    shown = f"{name}.{zone}" if name else zone
    if kind == "CNAME" and others:
        raise InvalidInput(f"{shown} already has {', '.join(sorted(others))} records; a CNAME "
                           "cannot share its name: unset them first")
    if "CNAME" in others:
        raise InvalidInput(f"{shown} is a CNAME, which cannot share its name: unset it first")
