"""`roost dns zones remove`: stop managing a zone, as octoDNS users expect.

By default Roost only forgets the zone: its records stay at the provider as they are (as
removing a zone from an octoDNS config leaves the provider alone). With ``delete_records``
the records Roost owns (those with its ownership TXT records) are deleted at the provider
first; records made by hand are never touched. A zone still used by an app's custom domain
or email sending domain is refused, naming each, since removing it would leave that app's
records unmanaged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core import audit
from roost.dns import names, service, zones
from roost.errors import Conflict, InvalidInput
from roost.orchestration.platform import Platform
from roost.store.models.dns import CustomDomain, DnsZone
from roost.store.models.mail import MailDomain


@dataclass
class ZoneRemoved:
    """What removing a zone did."""

    zone: str
    forgotten: int  # records Roost stopped managing
    deleted: list[str]  # changes applied at the provider (--delete-records), as plan lines


def users(session: Session, zone: DnsZone) -> list[str]:
    """What still uses ``zone``: ``custom domain HOST (app APP)``, ``email domain …``."""
    found = [f"custom domain {d.hostname} (app {d.app})" for d in session.scalars(
        select(CustomDomain).where(CustomDomain.zone == zone.name)
        .order_by(CustomDomain.hostname))]
    for mail in session.scalars(select(MailDomain).order_by(MailDomain.domain)):
        home = zones.for_host(session, mail.domain)
        if home is not None and home.id == zone.id:
            found.append(f"email domain {mail.domain} (app {mail.app})")
    return found


def _check(platform: Platform, name: str, confirm: str) -> str:
    """The zone's name once the removal is confirmed and nothing uses the zone."""
    with platform.sessions.begin() as session:
        zone = zones.get(session, name)
        if not confirm or names.zone_name(confirm) != zone.name:
            raise InvalidInput(f"removing {zone.name} stops Roost managing its records: "
                               f"repeat the zone's name to confirm: --confirm {zone.name}")
        using = users(session, zone)
        if using:
            raise Conflict(f"{zone.name} is still used by {'; '.join(using)}: remove them "
                           "first (`roost domains remove APP HOST`, `roost addons remove APP "
                           "email`)")
        return zone.name


def remove(platform: Platform, name: str, *, confirm: str, delete_records: bool = False,
           actor: str = "roost") -> ZoneRemoved:
    """Stop managing a zone; with ``delete_records`` delete the records Roost owns at the
    provider first (a provider error leaves the zone managed and says what went through)."""
    zone_name = _check(platform, name, confirm)
    deleted: list[str] = []
    if delete_records:
        found, _ = service.withdraw(platform, zone_name)
        deleted = [c.line(zone_name) for c in found.changes]
    with platform.sessions.begin() as session:
        zone = zones.get(session, zone_name)
        if users(session, zone):  # a domain added while the records were being deleted
            raise Conflict(f"{zone_name} gained a user while being removed ("
                           f"{'; '.join(users(session, zone))}): it stays managed")
        app = zone.app or None
        forgotten = zones.delete(session, zone)
        what = (f"{zone_name} ({forgotten} records; {len(deleted)} changes at the provider)"
                if delete_records else f"{zone_name} ({forgotten} records, left at the "
                "provider)")
        audit.record(session, actor, "dns.zones.remove", what, app=app)
    return ZoneRemoved(zone_name, forgotten, deleted)
