"""Custom domains that configure themselves.

``add`` reads as the flow it is: find the managed zone the host falls in, store the record
that points it at the router (owned by ``domain:APP``), apply the zone, wait until the
zone's authoritative servers answer with it, then route the host (the router's HTTPS
listener gets its certificate on demand, allowed by :func:`known`) and watch
``https://HOST/`` with an uptime monitor. A host in no managed zone is routed at once, as
before: its owner points its DNS here by hand. ``remove`` undoes each step.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from roost.core import apps, audit
from roost.dns import authority, domains, providers, zones
from roost.dns.records import new_zone
from roost.errors import Conflict, InvalidInput, NotFound, RoostError
from roost.monitor.uptime import monitors
from roost.orchestration import dns_flow
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models import App
from roost.store.models.dns import CustomDomain, DnsZone
from roost.store.models.uptime import Monitor

log = logging.getLogger("roost.domains")


def _route(platform: Platform, app: str) -> None:
    """Hand the router the app's host names (its default one and its live domains)."""
    with platform.sessions.begin() as session:
        hosts = list((apps.get(session, app).settings or {}).get("domains", []))
    runtime = platform.runtime
    if runtime is not None and runtime.is_running(app):
        runtime.set_hosts(app, [f"{app}.{platform.settings.base_domain}", *hosts])


def _set_routed(app: App, host: str, routed: bool) -> None:
    current = [h for h in (app.settings or {}).get("domains", []) if h != host]
    app.settings = {**(app.settings or {}), "domains": current + ([host] if routed else [])}


def _check_free(session: Any, platform: Platform, host: str) -> None:
    for other in apps.list_all(session):
        taken = [f"{other.name}.{platform.settings.base_domain}",
                 *(other.settings or {}).get("domains", [])]
        if host in taken:
            raise Conflict(f"{host} already routes to {other.name}")
    row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
    if row is not None:
        raise Conflict(f"{host} already routes to {row.app}")


def servers_for(platform: Platform, zone: DnsZone) -> list[authority.Server]:
    """The zone's authoritative servers: its ``nameservers`` option, else its NS records."""
    option = (zone.options or {}).get("nameservers", "")
    if option:
        return authority.resolve(authority.parse_servers(option))
    live = new_zone(zone.name)
    dns_flow.provider_for(platform, zone).populate(live, target=True, lenient=True)
    root = live.root_ns
    hosts = ",".join(v.rstrip(".") for v in (root.values if root else []))
    return authority.resolve(authority.parse_servers(hosts))


def _is_live(platform: Platform, row: CustomDomain, zone: DnsZone) -> bool:
    with platform.sessions.begin() as session:
        name = zone.name
        wanted = [r for r in zones.records(session, zones.get(session, name))
                  if r.owner == f"domain:{row.app}" and r.type == row.record_type
                  and (f"{r.name}.{name}" if r.name else name) == row.hostname]
    if not wanted:
        return False
    if row.record_type in ("ALIAS", domains.ROUTE53_ALIAS):
        # Answered as the target's addresses, not as the record: ask the provider.
        return not dns_flow.plan(platform, name).changes
    values = [v.rstrip(".") for v in wanted[0].data.get("values", [wanted[0].data.get("value")])]
    return authority.answering(servers_for(platform, zone), row.hostname, row.record_type,
                               values)


def add(platform: Platform, app: str, raw_host: str, actor: str) -> dict[str, Any]:
    """Add a custom domain; configure its DNS when Roost manages its zone."""
    host = domains.hostname(raw_host)
    owner = f"domain:{app}"
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        _check_free(session, platform, host)
        zone = zones.for_host(session, host)
        row = CustomDomain(app=app, hostname=host, created_at=utcnow(), message="")
        if zone is None:
            row.dns_state = "unmanaged"
            _set_routed(found, host, True)
        else:
            name = host[: -len(zone.name) - 1] if host != zone.name else ""
            present = zones.records(session, zone)
            public = platform.settings.public_host.strip().lower().rstrip(".")
            wanted = domains.records_for(
                name, list(platform.settings.public_ip), public,
                providers.kind(zone.provider).apex_alias, zone=zone.name,
                host_types=frozenset(r.type for r in present
                                     if r.name and f"{r.name}.{zone.name}" == public),
                alias_zone_id=(zone.options or {}).get("alias_hosted_zone_id", ""))
            for record in present:
                if record.name == name and record.owner != owner:
                    raise Conflict(f"{host} already has a {record.type} record in {zone.name} "
                                   f"({record.owner}'s): `roost dns unset {zone.name} "
                                   f"{name or '@'} {record.type}` first")
            for kind, data in wanted:
                zones.put(session, zone, zones.prepare(zone, name or "@", kind, data=data,
                                                       ttl=300, owner=owner))
            row.zone, row.record_type, row.dns_state = zone.name, wanted[0][0], "pending"
        session.add(row)
        audit.record(session, actor, "domains.add", f"added {host}", app=app)
    if row.dns_state == "unmanaged":
        _route(platform, app)
        return status_of(platform, host)
    try:
        dns_flow.apply(platform, row.zone, actor=actor)
    except RoostError:
        _forget_records(platform, row.zone, host, owner)
        with platform.sessions.begin() as session:
            for gone in session.scalars(select(CustomDomain).where(CustomDomain.hostname == host)):
                session.delete(gone)
        raise
    check(platform, host, wait=True)
    return status_of(platform, host)


def _forget_records(platform: Platform, zone_name: str, host: str, owner: str) -> None:
    with platform.sessions.begin() as session:
        zone = zones.get(session, zone_name)
        name = host[: -len(zone.name) - 1] if host != zone.name else ""
        for record in zones.records(session, zone):
            if record.name == name and record.owner == owner:
                zones.remove(session, zone, name or "@", record.type)


def check(platform: Platform, host: str, *, wait: bool = False) -> str:
    """See whether a pending domain's record is answered yet; route and watch it once it
    is. ``wait``: poll up to ``ROOST_DNS_PROPAGATION_TIMEOUT_SECONDS``. Return its state."""
    with platform.sessions.begin() as session:
        row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
        if row is None or row.dns_state != "pending":
            return row.dns_state if row else "gone"
        zone = zones.get(session, row.zone)
        session.expunge(row)
        session.expunge(zone)
    timeout = platform.settings.dns_propagation_timeout_seconds if wait else 0.0
    deadline = utcnow().timestamp() + timeout
    live = False
    while True:
        try:
            live = _is_live(platform, row, zone)
        except RoostError as exc:
            log.warning("checking %s: %s", host, exc)
        if live or utcnow().timestamp() >= deadline:
            break
        time.sleep(0.5)
    with platform.sessions.begin() as session:
        stored = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
        if stored is None:
            return "gone"
        if not live:
            stored.message = (f"waiting for the name servers of {zone.name} to answer with "
                              f"the {stored.record_type} record")
            return stored.dns_state
        stored.dns_state, stored.live_at, stored.message = "live", utcnow(), ""
        _set_routed(apps.get(session, stored.app), host, True)
        monitor = monitors.create(
            session, stored.app, f"https://{host}/", owner="domain",
            interval_s=platform.settings.app_monitor_interval_seconds,
            verify_tls=platform.settings.tls_issuer != "internal")
        stored.monitor_id = monitor.id
        app = stored.app
    _route(platform, app)
    return "live"


def recheck_pending(platform: Platform) -> None:
    """Move every pending domain whose record is answered now to live (scheduled)."""
    with platform.sessions.begin() as session:
        hosts = list(session.scalars(select(CustomDomain.hostname)
                                     .where(CustomDomain.dns_state == "pending")))
    for host in hosts:
        try:
            check(platform, host)
        except Exception as exc:  # one domain's trouble does not stop the rest
            log.warning("checking %s failed: %s", host, exc)


def remove(platform: Platform, app: str, raw_host: str, actor: str) -> None:
    """Remove a custom domain: its record (applied), its monitor, its route."""
    host = raw_host.strip().lower().rstrip(".")
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host,
                                                        CustomDomain.app == app))
        if row is None and host not in (found.settings or {}).get("domains", []):
            raise InvalidInput(f"{host} is not a custom domain of {app}")
        zone_name = row.zone if row is not None else ""
    if zone_name:
        _forget_records(platform, zone_name, host, f"domain:{app}")
        dns_flow.apply(platform, zone_name, actor=actor)
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        _set_routed(found, host, False)
        row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
        if row is not None:
            if row.monitor_id is not None and session.get(Monitor, row.monitor_id) is not None:
                monitors.remove(session, row.monitor_id)
            session.delete(row)
        audit.record(session, actor, "domains.remove", f"removed {host}", app=app)
    _route(platform, app)


def known(platform: Platform, host: str) -> bool:
    """Whether the router may get a certificate for ``host`` (Caddy's on-demand ``ask``)."""
    host = host.strip().lower().rstrip(".")
    with platform.sessions.begin() as session:
        row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
        if row is not None:
            return row.dns_state in ("live", "unmanaged")
        return any(host in (a.settings or {}).get("domains", []) for a in apps.list_all(session))


def certificate(platform: Platform, host: str) -> str:
    """The router's certificate for ``host``, read from Caddy's storage (never fetched)."""
    if not platform.settings.router_tls_listen:
        return "off (set ROOST_ROUTER_TLS_LISTEN)"
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    home = platform.settings.home  # this host's router's, or the swarm's issuer's (certs.py)
    found = [*(home / "run" / "data" / "caddy" / "certificates").glob(f"*/{host}/{host}.crt"),
             *(home / "swarm-certs" / "storage" / "certificates").glob(f"*/{host}/{host}.crt")]
    for path in sorted(found):
        if path.is_symlink():
            continue
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
        issuer = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        until: datetime = cert.not_valid_after_utc
        name = str(issuer[0].value) if issuer else "unknown issuer"
        return f"valid until {until:%Y-%m-%d} ({name})"
    return "none yet (issued on the first HTTPS request)"


def status_of(platform: Platform, host: str) -> dict[str, Any]:
    """One domain's DNS, certificate and monitor state."""
    with platform.sessions.begin() as session:
        row = session.scalar(select(CustomDomain).where(CustomDomain.hostname == host))
        if row is None:
            raise NotFound(f"{host} is not a custom domain")
        monitor = session.get(Monitor, row.monitor_id) if row.monitor_id else None
        found = {"hostname": host, "app": row.app, "zone": row.zone,
                 "record": row.record_type, "dns": row.dns_state, "message": row.message,
                 "monitor": monitor.state if monitor else "none",
                 "monitor_id": monitor.id if monitor else None}
    found["certificate"] = certificate(platform, host)
    return found


def status(platform: Platform, app: str) -> list[dict[str, Any]]:
    """Every custom domain of an app (those added before Roost managed DNS too)."""
    with platform.sessions.begin() as session:
        routed = list((apps.get(session, app).settings or {}).get("domains", []))
        rows = list(session.scalars(select(CustomDomain.hostname)
                                    .where(CustomDomain.app == app).order_by(CustomDomain.id)))
    out = [status_of(platform, h) for h in rows]
    for host in routed:
        if host not in rows:
            out.append({"hostname": host, "app": app, "zone": "", "record": "",
                        "dns": "unmanaged", "message": "", "monitor": "none",
                        "monitor_id": None, "certificate": certificate(platform, host)})
    return out
