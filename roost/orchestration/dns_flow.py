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
from concurrent.futures import ThreadPoolExecutor

from roost.dns import sync, zones
from roost.dns.service import apply, drift, ensure_records, plan, provider_for, zone_names
from roost.notify import MAIL_CHANNELS, enqueue
from roost.orchestration import recipients
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models.dns import DnsZone

log = logging.getLogger("roost.dns")
DRIFT_WORKERS = 4  # zones whose providers are asked at once
# Plan, apply and other add-ons' records live in roost.dns.service; named here too, so the
# platform's callers (API, domains) find every DNS step of the platform in one module.
__all__ = ["apply", "check_drift", "drift", "drift_pass", "ensure_records", "plan",
           "provider_for", "scheduled_pass", "zone_names"]


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
    return _record(platform, name, drift(platform, name))


def _record(platform: Platform, name: str, changes: list[sync.Change]) -> list[sync.Change]:
    """Keep the drift found on the zone; tell its maintainers when it is new."""
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


def drift_pass(platform: Platform, workers: int = DRIFT_WORKERS) -> dict[str, int]:
    """Check every applied zone for drift; one zone's trouble does not stop the rest.

    The providers are asked ``workers`` zones at a time (the wait is theirs); what is found
    is then recorded and told one zone after the other."""
    with platform.sessions.begin() as session:
        names = [z.name for z in zones.list_all(session) if z.applied is not None]

    def one(name: str) -> list[sync.Change] | None:
        try:
            return drift(platform, name)
        except Exception as exc:
            log.warning("drift check of %s failed: %s", name, exc)
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, names))
    found: dict[str, int] = {}
    for name, changes in zip(names, results, strict=True):
        if changes is None:
            continue
        try:
            found[name] = len(_record(platform, name, changes))
        except Exception as exc:
            log.warning("recording drift of %s failed: %s", name, exc)
    return found


def scheduled_pass(platform: Platform) -> None:
    """The background loop's pass: drift in every applied zone, then pending custom domains."""
    drift_pass(platform)
    from roost.orchestration import domain_flow

    domain_flow.recheck_pending(platform)
