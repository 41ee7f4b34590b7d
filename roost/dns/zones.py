"""Managed zones and their records in the store: add, list, set, unset, replace.

Everything here is checked before it is stored (names, types the zone's provider supports,
TTLs, values through octoDNS's own validation), so nothing invalid ever reaches a plan, and
nothing here talks to a provider.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core.secrets import Cipher
from roost.dns import names, providers
from roost.dns.records import RecordData, check_coexistence, from_record
from roost.errors import Conflict, InvalidInput, NotFound
from roost.store.base import utcnow
from roost.store.models.dns import DnsRecord, DnsZone


def get(session: Session, name: str) -> DnsZone:
    """A managed zone by name, or a one-line refusal saying how to manage it."""
    zone_name = names.zone_name(name)
    found = session.scalar(select(DnsZone).where(DnsZone.name == zone_name))
    if found is None:
        raise NotFound(f"Roost does not manage the zone {zone_name}: add it with `roost dns "
                       f"zones add {zone_name} --provider route53|powerdns`")
    return found


def list_all(session: Session) -> list[DnsZone]:
    """Every managed zone, by name."""
    return list(session.scalars(select(DnsZone).order_by(DnsZone.name)))


def for_host(session: Session, host: str) -> DnsZone | None:
    """The managed zone a host name falls in (the longest match), if any."""
    host = host.lower().rstrip(".")
    best: DnsZone | None = None
    for zone in list_all(session):
        if (host == zone.name or host.endswith("." + zone.name)) and (
                best is None or len(zone.name) > len(best.name)):
            best = zone
    return best


def _threshold(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number <= 1:
        raise InvalidInput(f"{key} must be a fraction above 0 and at most 1 (0.3 is 30 %), "
                           f"got {value!r}")
    return number


def create(session: Session, cipher: Cipher, name: str, provider: str,
           options: dict[str, str] | None = None, *, app: str = "",
           update_threshold: float = 0.3, delete_threshold: float = 0.3) -> DnsZone:
    """Manage a zone at ``provider``; secret options are stored encrypted."""
    zone_name = names.zone_name(name)
    kind = providers.kind(provider)
    options = dict(options or {})
    providers.check_options(kind.identifier, options)
    if session.scalar(select(DnsZone).where(DnsZone.name == zone_name)) is not None:
        raise Conflict(f"Roost manages {zone_name} already: `roost dns records {zone_name}`")
    secrets = {k: v for k, v in options.items() if k in kind.secret_options}
    plain = {k: v for k, v in options.items() if k not in kind.secret_options}
    zone = DnsZone(name=zone_name, provider=kind.identifier, options=plain,
                   secrets=cipher.encrypt(json.dumps(secrets)) if secrets else None,
                   update_threshold=_threshold(update_threshold, "--update-threshold"),
                   delete_threshold=_threshold(delete_threshold, "--delete-threshold"),
                   app=app, drift="", created_at=utcnow())
    session.add(zone)
    session.flush()
    return zone


def options_of(zone: DnsZone, cipher: Cipher) -> dict[str, str]:
    """A zone's options with its secrets decrypted (for building its provider)."""
    found = dict(zone.options or {})
    if zone.secrets:
        found.update(json.loads(cipher.decrypt(zone.secrets)))
    return found


def records(session: Session, zone: DnsZone) -> list[RecordData]:
    """A zone's records, by name and type."""
    rows = session.scalars(select(DnsRecord).where(DnsRecord.zone_id == zone.id)
                           .order_by(DnsRecord.name, DnsRecord.type))
    return [RecordData(r.name, r.type, r.ttl, dict(r.data), r.owner) for r in rows]


def prepare(zone: DnsZone, name: str, kind: str, values: list[str] | None = None, *,
            ttl: int = 3600, data: dict[str, Any] | None = None,
            owner: str = "user") -> RecordData:
    """A checked record for ``zone`` from text values (or octoDNS ``data``)."""
    rname = names.record_name(name, zone.name)
    rtype = names.record_type(kind, providers.supports(zone.provider), zone.provider)
    rttl = names.ttl(ttl)
    if data is None:
        data = names.values_data(rtype, list(values or []))
    checked = names.check_record(zone.name, rname, rtype, rttl, data)
    return from_record(checked, owner)  # octoDNS's own form: values in its order


def put(session: Session, zone: DnsZone, record: RecordData) -> RecordData:
    """Store ``record`` (replacing the one with its name and type)."""
    check_coexistence(records(session, zone), record.name, record.type, zone.name)
    row = session.scalar(select(DnsRecord).where(
        DnsRecord.zone_id == zone.id, DnsRecord.name == record.name,
        DnsRecord.type == record.type))
    if row is None:
        row = DnsRecord(zone_id=zone.id, name=record.name, type=record.type)
        session.add(row)
    row.ttl, row.data, row.owner, row.updated_at = record.ttl, record.data, record.owner, utcnow()
    session.flush()
    return record


def remove(session: Session, zone: DnsZone, name: str, kind: str | None = None) -> list[str]:
    """Delete the records at ``name`` (of one type, or all); return the types deleted."""
    rname = names.record_name(name, zone.name)
    query = select(DnsRecord).where(DnsRecord.zone_id == zone.id, DnsRecord.name == rname)
    if kind:
        query = query.where(DnsRecord.type == names.type_name(kind))
    rows = list(session.scalars(query))
    if not rows:
        what = f"{kind.upper()} record" if kind else "record"
        raise NotFound(f"{zone.name} has no {what} at {name}: `roost dns records {zone.name}` "
                       "lists them")
    for row in rows:
        session.delete(row)
    session.flush()
    return sorted(r.type for r in rows)


def replace_all(session: Session, zone: DnsZone, new: list[RecordData]) -> int:
    """Make ``new`` the zone's records (an import); every record checked first."""
    supported = providers.supports(zone.provider)
    for r in new:
        names.record_name(r.name or "@", zone.name)
        names.record_type(r.type, supported, zone.provider)
        names.ttl(r.ttl)
        if r.type == "CNAME" and r.name == "":
            names.check_record(zone.name, r.name, r.type, r.ttl, r.data)
    for row in session.scalars(select(DnsRecord).where(DnsRecord.zone_id == zone.id)):
        session.delete(row)
    session.flush()
    now = utcnow()
    session.add_all([DnsRecord(zone_id=zone.id, name=r.name, type=r.type, ttl=r.ttl,
                               data=r.data, owner=r.owner, updated_at=now) for r in new])
    session.flush()
    return len(new)


def delete(session: Session, zone: DnsZone) -> int:
    """Stop managing ``zone``: its records and the zone leave the store (nothing is sent to
    the provider). Return the number of records forgotten."""
    rows = list(session.scalars(select(DnsRecord).where(DnsRecord.zone_id == zone.id)))
    for row in rows:
        session.delete(row)
    session.flush()
    session.delete(zone)
    session.flush()
    return len(rows)


def view(zone: DnsZone, count: int) -> dict[str, Any]:
    """What the API shows of a zone (never its secrets)."""
    return {"name": zone.name, "provider": zone.provider, "records": count,
            "options": dict(zone.options or {}), "app": zone.app,
            "update_threshold": zone.update_threshold,
            "delete_threshold": zone.delete_threshold,
            "applied_at": zone.applied_at.isoformat() if zone.applied_at else None,
            "checked_at": zone.checked_at.isoformat() if zone.checked_at else None,
            "drift": zone.drift}
