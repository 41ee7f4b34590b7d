"""The apps overview in a handful of queries, whatever the number of apps and monitors:
status, current release, processes up/total, open incidents, findings, maintainers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from roost.monitor.uptime import incidents
from roost.monitor.uptime.specs import IncidentView
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models import App, Maintainer
from roost.store.models.uptime import Incident, Monitor
from roost.store.models.vulns import VulnFinding, VulnIgnore


@dataclass
class AppRow:
    """One line of the overview."""

    name: str
    web_url: str
    created_at: datetime
    release: int | None
    up: int
    total: int
    incidents: int
    findings: int
    monitors: int
    monitors_down: int
    maintainers: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``not deployed``, ``down``, ``stopped``, ``degraded`` or ``running``."""
        if self.release is None:
            return "not deployed"
        if self.incidents or self.monitors_down:
            return "down"
        if self.total == 0:
            return "stopped"
        return "running" if self.up == self.total else "degraded"


def _findings(session: Session, only: str | None = None) -> dict[str, int]:
    """Open findings per app, ignores (until their expiry) applied."""
    now = utcnow()
    ignored: dict[str, set[str]] = {}
    ignores = select(VulnIgnore.app_name, VulnIgnore.ids, VulnIgnore.until)
    found = select(VulnFinding.app_name, VulnFinding.ids)
    if only is not None:
        ignores = ignores.where(VulnIgnore.app_name == only)
        found = found.where(VulnFinding.app_name == only)
    for app, ids, until in session.execute(ignores):
        if until is None or until > now:
            ignored.setdefault(app, set()).update(ids or [])
    counts: Counter[str] = Counter()
    for app, ids in session.execute(found):
        if not ignored.get(app, set()) & set(ids or []):
            counts[app] += 1
    return dict(counts)


def apps_overview(session: Session, ctx: Platform, only: str | None = None) -> list[AppRow]:
    """Every app (or only the one named) with its status figures."""
    incident_q = (select(Incident.app_name, func.count())
                  .where(Incident.ended_at.is_(None), Incident.confirmed_at.is_not(None))
                  .group_by(Incident.app_name))
    monitor_q = (select(Monitor.app_name, func.count(),
                        func.sum(case((Monitor.state == "down", 1), else_=0)))
                 .where(Monitor.paused.is_(False)).group_by(Monitor.app_name))
    listed = select(App.id, App.name, App.created_at, App.current_release).order_by(App.name)
    people = select(Maintainer.app_id, Maintainer.name).order_by(Maintainer.id)
    if only is not None:
        incident_q = incident_q.where(Incident.app_name == only)
        monitor_q = monitor_q.where(Monitor.app_name == only)
        listed = listed.where(App.name == only)
        people = people.join(App, App.id == Maintainer.app_id).where(App.name == only)
    open_incidents = {name: int(n) for name, n in session.execute(incident_q)}
    monitors = {name: (int(n), int(down or 0)) for name, n, down in session.execute(monitor_q)}
    findings = _findings(session, only)
    names: dict[int, list[str]] = {}
    for app_id, name in session.execute(people):
        names.setdefault(app_id, []).append(name)
    s = ctx.settings
    port = s.router_listen.rpartition(":")[2]
    runtime = ctx.runtime
    rows = []
    for app_id, name, created_at, release in session.execute(listed):
        procs = runtime.ps(name) if runtime is not None else []
        watched, down = monitors.get(name, (0, 0))
        rows.append(AppRow(
            name=name, web_url=f"http://{name}.{s.base_domain}:{port}",
            created_at=created_at, release=release,
            up=sum(1 for p in procs if p["state"] == "up"), total=len(procs),
            incidents=open_incidents.get(name, 0), findings=findings.get(name, 0),
            monitors=watched, monitors_down=down, maintainers=names.get(app_id, [])))
    return rows


def open_incidents(session: Session, app: str | None = None) -> list[IncidentView]:
    """Open (confirmed) incidents, newest first."""
    return incidents.list_incidents(session, app, open_only=True)
