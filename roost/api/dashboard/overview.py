"""The apps overview in a handful of queries, whatever the number of apps and monitors:
status, current release, processes up/total, open incidents, findings, maintainers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from roost.monitor.uptime import incidents
from roost.monitor.uptime.specs import IncidentView
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models import App
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


def _grouped(session: Session, query: object) -> dict[str, int]:
    return {name: int(n) for name, n in session.execute(query)}  # type: ignore[call-overload]


def _findings(session: Session) -> dict[str, int]:
    """Open findings per app, ignores (until their expiry) applied."""
    now = utcnow()
    ignored: dict[str, set[str]] = {}
    for app, ids, until in session.execute(
            select(VulnIgnore.app_name, VulnIgnore.ids, VulnIgnore.until)):
        if until is None or until > now:
            ignored.setdefault(app, set()).update(ids or [])
    counts: Counter[str] = Counter()
    for app, ids in session.execute(select(VulnFinding.app_name, VulnFinding.ids)):
        if not ignored.get(app, set()) & set(ids or []):
            counts[app] += 1
    return dict(counts)


def apps_overview(session: Session, ctx: Platform, only: str | None = None) -> list[AppRow]:
    """Every app (or only the one named) with its status figures."""
    open_incidents = _grouped(session, select(Incident.app_name, func.count())
                              .where(Incident.ended_at.is_(None),
                                     Incident.confirmed_at.is_not(None))
                              .group_by(Incident.app_name))
    monitors = _grouped(session, select(Monitor.app_name, func.count())
                        .where(Monitor.paused.is_(False)).group_by(Monitor.app_name))
    down = _grouped(session, select(Monitor.app_name, func.count())
                    .where(Monitor.paused.is_(False), Monitor.state == "down")
                    .group_by(Monitor.app_name))
    findings = _findings(session)
    s = ctx.settings
    port = s.router_listen.rpartition(":")[2]
    supervisor = ctx.runtime.supervisor if ctx.runtime is not None else None
    rows = []
    listed = select(App).options(selectinload(App.maintainers)).order_by(App.name)
    if only is not None:
        listed = listed.where(App.name == only)
    for app in session.scalars(listed):
        procs = supervisor.ps(app.name) if supervisor is not None else []
        rows.append(AppRow(
            name=app.name, web_url=f"http://{app.name}.{s.base_domain}:{port}",
            created_at=app.created_at, release=app.current_release,
            up=sum(1 for p in procs if p["state"] == "up"), total=len(procs),
            incidents=open_incidents.get(app.name, 0), findings=findings.get(app.name, 0),
            monitors=monitors.get(app.name, 0), monitors_down=down.get(app.name, 0),
            maintainers=[m.name for m in app.maintainers]))
    return rows


def open_incidents(session: Session, app: str | None = None) -> list[IncidentView]:
    """Open (confirmed) incidents, newest first."""
    return incidents.list_incidents(session, app, open_only=True)
