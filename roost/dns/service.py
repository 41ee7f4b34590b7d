"""Plan, apply and check zones for anyone holding the settings and the store: the platform,
or another add-on (its ``AddonEnv``), which calls :func:`ensure_records` for the records it
needs (the email add-on's SPF, DKIM, DMARC and return-path records).

Each function opens its own store sessions and talks to the provider outside them, so no
transaction is held open across a network call. The records as applied are kept on the zone
(``applied``): the drift check plans against them, so a change still waiting in Roost (set,
not yet applied) is never taken for drift. A plan of names changed in Roost reads only them
while the zone's last full reading is recent (:mod:`roost.dns.scope`); the drift check and an
apply that reads the whole zone renew that reading (``checked_at``).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from roost.core import audit
from roost.core.secrets import Cipher, load_or_create_key
from roost.dns import plancache, providers, scope, sync, zones
from roost.dns.records import RecordData, from_snapshot, snapshot
from roost.errors import InvalidInput
from roost.settings import Settings
from roost.store.base import utcnow
from roost.store.models.dns import DnsZone


class DnsEnv(Protocol):
    """What DNS work needs: the settings and the store (the platform and ``AddonEnv`` both
    have them; a cipher is made from the settings where there is none)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...


def cipher_of(env: DnsEnv) -> Cipher:
    """The platform's cipher (secrets of zones), or one made from the same key."""
    found = getattr(env, "cipher", None)
    if isinstance(found, Cipher):
        return found
    return Cipher(load_or_create_key(env.settings.home, env.settings.secret_key))


def provider_for(platform: DnsEnv, zone: DnsZone) -> Any:
    """The octoDNS provider of a zone, with its credentials and thresholds."""
    return providers.build(platform.settings, zone.provider,
                           zones.options_of(zone, cipher_of(platform)),
                           update_threshold=zone.update_threshold,
                           delete_threshold=zone.delete_threshold)


def _load(platform: DnsEnv, name: str) -> tuple[DnsZone, list[RecordData], Any]:
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        session.expunge(zone)
        wanted = zones.records(session, zone)
    return zone, wanted, provider_for(platform, zone)


def zone_names(platform: DnsEnv, name: str | None) -> list[str]:
    """``[name]`` (checked), or every managed zone when ``name`` is None."""
    with platform.sessions.begin() as session:
        if name is not None:
            return [zones.get(session, name).name]
        return [z.name for z in zones.list_all(session)]


def _source(zone: DnsZone, wanted: list[RecordData]) -> str:
    """What a plan of ``zone`` is made from: its records and settings, as a digest."""
    return plancache.digest(zone.name, zone.provider, zone.options, zone.secrets,
                            zone.update_threshold, zone.delete_threshold, snapshot(wanted))


def _plan(platform: DnsEnv, zone: DnsZone, wanted: list[RecordData], provider: Any,
          refresh: bool) -> sync.ZonePlan:
    """The zone's plan, reading only the changed names when :func:`scope.of` allows."""
    limited = scope.of(zone, wanted, can_read_names=hasattr(provider, "read_only"),
                       drift_interval=platform.settings.dns_drift_interval_seconds,
                       refresh=refresh)
    return sync.plan(provider, zone.name, wanted, limited)


def plan(platform: DnsEnv, name: str, *, refresh: bool = False) -> sync.ZonePlan:
    """What applying the zone would change at its provider (kept a short while for the
    apply that follows it: :mod:`roost.dns.plancache`). ``refresh`` reads the whole zone."""
    zone, wanted, provider = _load(platform, name)
    read_at = utcnow()
    found = _plan(platform, zone, wanted, provider, refresh)
    if found.changes:  # an apply after an empty plan reads the zone again (drift since?)
        plancache.keep(zone.name, _source(zone, wanted), provider, found, read_at)
    else:
        plancache.forget(zone.name)
    return found


def apply(platform: DnsEnv, name: str, *, force: bool = False, actor: str = "roost",
          refresh: bool = False) -> tuple[sync.ZonePlan, int, list[int]]:
    """Plan and apply one zone; remember the records as applied. Return the plan, the number
    of changes applied and the sizes of the change batches sent (Route53).

    The zone's plan made moments ago from the same records is applied as it is, without
    reading the whole zone again (:mod:`roost.dns.plancache`); ``refresh`` reads it."""
    zone, wanted, provider = _load(platform, name)
    kept = None if refresh else plancache.take(zone.name, _source(zone, wanted))
    if kept is not None:
        provider, found, read_at = kept.provider, kept.plan, kept.read_at
    else:
        read_at = utcnow()
        found = _plan(platform, zone, wanted, provider, refresh)
    try:
        applied = sync.apply(provider, found, force=force,
                             fresh=lambda: provider_for(platform, zone))
    finally:
        batches = list(getattr(provider, "sent_batches", []))
    with platform.sessions.begin() as session:
        row = zones.get(session, zone.name)
        row.applied, row.applied_at = snapshot(wanted), utcnow()
        if not found.read:  # the whole zone was read: it now is as applied
            row.drift, row.checked_at = "", read_at
        if applied:
            audit.record(session, actor, "dns.apply",
                         f"{zone.name}: {applied} changes" + (" (forced)" if force else ""),
                         app=row.app or None)
    return found, applied, batches


def drift(platform: DnsEnv, name: str) -> list[sync.Change]:
    """Owned records whose live state differs from what Roost last applied."""
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        session.expunge(zone)
    if zone.applied is None:
        return []
    provider = provider_for(platform, zone)
    changes = sync.plan(provider, zone.name, from_snapshot(zone.applied)).changes
    if changes:  # the zone's kept plan predates the drift: the apply must see it
        plancache.forget(zone.name)
    return changes


def withdraw(platform: DnsEnv, name: str) -> tuple[sync.ZonePlan, int]:
    """Delete every record Roost owns in the zone at its provider (and their ownership TXT
    records); records made by hand stay. The zone's thresholds do not hold this back: the
    caller asked for exactly this (``roost dns zones remove --delete-records``). Return the
    plan and the number of changes applied; the store is not touched."""
    zone, _, provider = _load(platform, name)
    plancache.forget(zone.name)
    found = sync.plan(provider, zone.name, [])
    applied = sync.apply(provider, found, force=True,
                         fresh=lambda: provider_for(platform, zone))
    return found, applied


def ensure_records(platform: DnsEnv, zone: str, records: list[dict[str, Any]], *,
                   owner: str, apply_now: bool = True, force: bool = False
                   ) -> sync.ZonePlan | None:
    """Make ``records`` the records of ``owner`` in a managed zone, then apply the zone.

    For other add-ons (email's SPF/DKIM/DMARC, …). Each record is ``{"name": "@" | label,
    "type": "TXT", "values": ["…"], "ttl": 3600}`` (values as zone-file text). Records of
    ``owner`` not in the list are removed; records of other owners are left alone, and one
    of theirs at the same name and type is refused rather than taken over. Returns the plan
    that was applied (None when ``apply_now`` is false). ``force`` passes the zone's safety
    thresholds (an add-on withdrawing all its own records from a small zone)."""
    if not owner or owner == "user":
        raise InvalidInput("ensure_records needs an owner naming the add-on, e.g. email:APP")
    with platform.sessions.begin() as session:
        row = zones.get(session, zone)
        wanted = [zones.prepare(row, r["name"], r["type"], list(r.get("values") or []),
                                ttl=int(r.get("ttl", 3600)), owner=owner) for r in records]
        current = {r.key: r for r in zones.records(session, row)}
        for r in wanted:
            other = current.get(r.key)
            if other is not None and other.owner != owner:
                raise InvalidInput(f"{r.name or '@'} {r.type} in {row.name} belongs to "
                                   f"{other.owner}, not {owner}: unset it first")
        keep = {r.key for r in wanted}
        for r in current.values():
            if r.owner == owner and r.key not in keep:
                zones.remove(session, row, r.name or "@", r.type)
        for r in wanted:
            zones.put(session, row, r)
        name = row.name
    if not apply_now:
        return None
    return apply(platform, name, force=force, actor=owner)[0]


