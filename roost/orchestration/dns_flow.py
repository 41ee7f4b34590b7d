"""DNS zones at the platform's moments: plan, apply, drift checks and other add-ons' records.

Each function opens its own store sessions and talks to the provider outside them, so no
transaction is held open across a network call. The records as applied are kept on the zone
(``applied``): the scheduled drift check plans against them, so a change made in the
provider's console to a record Roost owns is told to the zone's maintainers with the diff,
while a change still waiting in Roost (set, not yet applied) is not drift.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from roost.core import audit
from roost.dns import providers, sync, zones
from roost.dns.records import RecordData, from_snapshot, snapshot
from roost.errors import InvalidInput
from roost.notify import MAIL_CHANNELS, enqueue
from roost.orchestration import recipients
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models.dns import DnsZone

log = logging.getLogger("roost.dns")


def provider_for(platform: Platform, zone: DnsZone) -> Any:
    """The octoDNS provider of a zone, with its credentials and thresholds."""
    return providers.build(platform.settings, zone.provider,
                           zones.options_of(zone, platform.cipher),
                           update_threshold=zone.update_threshold,
                           delete_threshold=zone.delete_threshold)


def _load(platform: Platform, name: str) -> tuple[DnsZone, list[RecordData], Any]:
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        session.expunge(zone)
        wanted = zones.records(session, zone)
    return zone, wanted, provider_for(platform, zone)


def zone_names(platform: Platform, name: str | None) -> list[str]:
    """``[name]`` (checked), or every managed zone when ``name`` is None."""
    with platform.sessions.begin() as session:
        if name is not None:
            return [zones.get(session, name).name]
        return [z.name for z in zones.list_all(session)]


def plan(platform: Platform, name: str) -> sync.ZonePlan:
    """What applying the zone would change at its provider."""
    zone, wanted, provider = _load(platform, name)
    return sync.plan(provider, zone.name, wanted)


def apply(platform: Platform, name: str, *, force: bool = False, actor: str = "roost"
          ) -> tuple[sync.ZonePlan, int, list[int]]:
    """Plan and apply one zone; remember the records as applied. Return the plan, the number
    of changes applied and the sizes of the change batches sent (Route53)."""
    zone, wanted, provider = _load(platform, name)
    found = sync.plan(provider, zone.name, wanted)
    try:
        applied = sync.apply(provider, found, force=force,
                             fresh=lambda: provider_for(platform, zone))
    finally:
        batches = list(getattr(provider, "sent_batches", []))
    with platform.sessions.begin() as session:
        row = zones.get(session, zone.name)
        row.applied, row.applied_at = snapshot(wanted), utcnow()
        row.drift = ""
        if applied:
            audit.record(session, actor, "dns.apply",
                         f"{zone.name}: {applied} changes" + (" (forced)" if force else ""),
                         app=row.app or None)
    return found, applied, batches


def drift(platform: Platform, name: str) -> list[sync.Change]:
    """Owned records whose live state differs from what Roost last applied."""
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        session.expunge(zone)
    if zone.applied is None:
        return []
    provider = provider_for(platform, zone)
    return sync.plan(provider, zone.name, from_snapshot(zone.applied)).changes


def _tell(platform: Platform, zone: DnsZone, key: str, subject: str, body: str) -> None:
    """Queue a message to the zone's maintainers (its app's), else the on-call contacts."""
    with platform.sessions.begin() as session:
        people = recipients.for_app(session, zone.app) if zone.app else []
        if not people:
            people = recipients.parse_oncall(list(platform.settings.oncall))
        if not people:
            log.warning("%s (no maintainers or on-call contacts to tell)", subject)
        for person in people:
            enqueue(session, f"{key}:{person.key}", person, "dns", subject, body, MAIL_CHANNELS)


def check_drift(platform: Platform, name: str) -> list[sync.Change]:
    """Check one zone for drift; tell its maintainers about drift not told before."""
    changes = drift(platform, name)
    text = "\n".join(c.line(name) for c in changes)
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        told_before = zone.drift == text
        zone.drift, zone.checked_at = text, utcnow()
        session.flush()
        session.expunge(zone)
    if changes and not told_before:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        subject = f"DNS drift in {name}: {len(changes)} records Roost owns were changed"
        body = (f"These records of {name} no longer match what Roost applied (changed at the "
                f"provider, not through Roost). What `roost dns apply {name}` would do:\n\n"
                f"{text}\n\nRun `roost dns plan {name}` to review, `roost dns apply {name}` "
                "to put them back.")
        _tell(platform, zone, f"dns-drift:{name}:{digest}", subject, body)
    return changes


def drift_pass(platform: Platform) -> dict[str, int]:
    """Check every applied zone for drift; one zone's trouble does not stop the rest."""
    found: dict[str, int] = {}
    with platform.sessions.begin() as session:
        names = [z.name for z in zones.list_all(session) if z.applied is not None]
    for name in names:
        try:
            found[name] = len(check_drift(platform, name))
        except Exception as exc:
            log.warning("drift check of %s failed: %s", name, exc)
    return found


def ensure_records(platform: Platform, zone: str, records: list[dict[str, Any]], *,
                   owner: str, apply_now: bool = True) -> sync.ZonePlan | None:
    """Make ``records`` the records of ``owner`` in a managed zone, then apply the zone.

    For other add-ons (email's SPF/DKIM/DMARC, …). Each record is ``{"name": "@" | label,
    "type": "TXT", "values": ["…"], "ttl": 3600}`` (values as zone-file text). Records of
    ``owner`` not in the list are removed; records of other owners are left alone, and one
    of theirs at the same name and type is refused rather than taken over. Returns the plan
    that was applied (None when ``apply_now`` is false)."""
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
    return apply(platform, name, actor=owner)[0]


def scheduled_pass(platform: Platform) -> None:
    """The background loop's pass: drift in every applied zone, then pending custom domains."""
    drift_pass(platform)
    from roost.orchestration import domain_flow

    domain_flow.recheck_pending(platform)
