"""The email add-on's DNS records (SPF, DKIM, DMARC, return path) in a zone Roost manages.

When an app's sending domain falls in a managed zone (`roost dns zones add`), adding the
email add-on creates its records there, owned by ``email:APP`` so no other record is touched,
and applies the zone; removing the add-on withdraws them. Elsewhere `roost email dns` lists
what to publish by hand, as before.
"""

from __future__ import annotations

import logging

from roost.dns import service as dns_service
from roost.dns import zones
from roost.errors import RoostError
from roost.mail import dkim, dnscheck, domains
from roost.mail.deliver import helo_name
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.mail")


def wanted(platform: Platform, app: str) -> tuple[str, list[dnscheck.Record]]:
    """The app's sending domain and the records it needs."""
    s = platform.settings
    with platform.sessions.begin() as session:
        sender = domains.sender(platform.cipher, domains.row_of_app(session, app))
    return sender.domain, dnscheck.expected(sender.domain, sender.selector,
                                            dkim.public_record(sender.dkim_key),
                                            helo_name(s.mail_hostname, s.base_domain),
                                            s.mail_relay)


def _zone_of(platform: Platform, domain: str) -> str | None:
    with platform.sessions.begin() as session:
        found = zones.for_host(session, domain)
        return found.name if found is not None else None


def publish(platform: Platform, app: str) -> str:
    """Create the app's mail records in the managed zone of its domain and apply it; a line
    saying what happened (nothing to do outside managed zones)."""
    domain, records = wanted(platform, app)
    zone = _zone_of(platform, domain)
    if zone is None:
        return f"publish the records `roost email dns {app}` lists in {domain}'s DNS"
    rows = [{"name": r.name, "type": r.type, "values": [r.value], "ttl": 3600} for r in records]
    try:
        dns_service.ensure_records(platform, zone, rows, owner=f"email:{app}")
    except RoostError as exc:
        log.warning("mail records of %s not published in %s: %s", app, zone, exc)
        return f"could not publish the mail records in {zone}: {exc}"
    return f"published SPF, DKIM, DMARC and return-path records in the zone {zone}"


def withdraw(platform: Platform, app: str) -> None:
    """Remove the app's mail records from the managed zone of its domain, if any."""
    domain, _ = wanted(platform, app)
    zone = _zone_of(platform, domain)
    if zone is not None:
        try:
            # Only this add-on's own records go, so the zone's thresholds (meant for edits
            # that touch much of a zone by mistake) do not hold their removal back.
            dns_service.ensure_records(platform, zone, [], owner=f"email:{app}", force=True)
        except RoostError as exc:
            log.warning("mail records of %s not removed from %s: %s", app, zone, exc)
