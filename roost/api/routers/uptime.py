"""Uptime monitors, incidents, maintenance windows, notification tests and remote probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, IdPath, PlatformDep, SessionDep
from roost.api.schemas import ChannelResultOut
from roost.core import apps, audit
from roost.monitor.uptime import addresses, engine, incidents, monitors
from roost.monitor.uptime.specs import (
    Claim,
    IncidentView,
    MaintenanceView,
    MonitorInfo,
    MonitorView,
    ReportIn,
    ReportOut,
)
from roost.notify.testsend import send_test
from roost.orchestration.services import recipients_for

router = APIRouter(tags=["uptime"])


class MonitorIn(BaseModel):
    """Body of POST /apps/{app}/monitors."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, description="http(s)://…, tcp://host:port "
                     "or tls://host:port")
    name: str = Field(default="", max_length=100,
                      description="shown on the public status page (default: the host)")
    kind: str | None = Field(default=None, description="http, tcp or tls (default: from url)")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    expected_status: str | None = Field(default=None, max_length=200, examples=["200-299,304"])
    max_response_ms: int | None = Field(default=None, ge=1, le=600_000)
    body_contains: str | None = Field(default=None, max_length=1000)
    body_regex: str | None = Field(default=None, max_length=1000)
    follow_redirects: bool = True
    verify_tls: bool = True
    warn_days: int = Field(default=14, ge=1, le=365)
    interval: float = Field(default=30.0, ge=1, le=86_400, description="seconds, at least 10")
    timeout: float | None = Field(default=None, gt=0, le=300)
    confirm: int = Field(default=2, ge=1, le=100)
    recover: int = Field(default=2, ge=1, le=100)


class MaintenanceIn(BaseModel):
    """Body of POST /apps/{app}/maintenance."""

    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None
    end: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0, le=31 * 86_400)
    reason: str = Field(default="", max_length=300)


def _kind_of(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    return {"tcp": "tcp", "tls": "tls", "postgres": "postgres",
            "postgresql": "postgres"}.get(scheme, "http")


@router.get("/monitors")
def list_monitors(session: SessionDep, _: ActorDep, app: str | None = None
                  ) -> list[MonitorView]:
    """Every monitor, or those of one app."""
    if app is not None:
        apps.get(session, app)
    return monitors.list_monitors(session, app)


@router.post("/apps/{app}/monitors", status_code=201)
def add_monitor(app: str, body: MonitorIn, session: SessionDep, ctx: PlatformDep,
                actor: ActorDep) -> MonitorView:
    """Add a monitor to an app (never on a link-local or metadata address, unless allowed)."""
    apps.get(session, app)
    kind = body.kind or _kind_of(body.url)
    target = body.url.partition("://")[2] if kind in ("tcp", "tls") and "://" in body.url \
        else body.url
    addresses.check_target(kind, target, ctx.settings.monitor_allow_private)
    made = monitors.create(
        session, app, target, kind=kind, method=body.method, headers=body.headers,
        expected_status=body.expected_status, max_response_ms=body.max_response_ms,
        body_contains=body.body_contains, body_regex=body.body_regex,
        follow_redirects=body.follow_redirects, verify_tls=body.verify_tls,
        tls_warn_days=body.warn_days, interval_s=body.interval, timeout_s=body.timeout,
        confirm_failures=body.confirm, confirm_successes=body.recover, name=body.name)
    audit.record(session, actor, "monitors.add", f"monitor #{made.id} on {made.target}", app=app)
    return made


@router.get("/monitors/{monitor_id}")
def monitor_info(monitor_id: IdPath, session: SessionDep, _: ActorDep) -> MonitorInfo:
    """State, uptime over 24 h / 7 d / 30 d / 90 d, last checks, open incident."""
    return monitors.info(session, monitor_id)


@router.post("/monitors/{monitor_id}/pause")
def pause(monitor_id: IdPath, session: SessionDep, actor: ActorDep) -> MonitorView:
    """Stop checking a monitor."""
    done = monitors.pause(session, monitor_id)
    audit.record(session, actor, "monitors.pause", f"paused monitor #{monitor_id}",
                 app=done.app_name)
    return done


@router.post("/monitors/{monitor_id}/resume")
def resume(monitor_id: IdPath, session: SessionDep, actor: ActorDep) -> MonitorView:
    """Check a paused monitor again."""
    done = monitors.resume(session, monitor_id)
    audit.record(session, actor, "monitors.resume", f"resumed monitor #{monitor_id}",
                 app=done.app_name)
    return done


@router.delete("/monitors/{monitor_id}")
def remove(monitor_id: IdPath, session: SessionDep, actor: ActorDep) -> MonitorView:
    """Delete a monitor with its history."""
    done = monitors.remove(session, monitor_id)
    audit.record(session, actor, "monitors.remove", f"removed monitor #{monitor_id}",
                 app=done.app_name)
    return done


@router.get("/incidents")
def list_incidents(session: SessionDep, _: ActorDep, app: str | None = None,
                   open: bool = False) -> list[IncidentView]:
    """Incidents, newest first; ``open`` keeps only unresolved ones."""
    if app is not None:
        apps.get(session, app)
    return incidents.list_incidents(session, app, open_only=open)


@router.post("/incidents/{incident_id}/ack")
def ack(incident_id: IdPath, session: SessionDep, actor: ActorDep) -> IncidentView:
    """Acknowledge an incident: reminders and escalation stop."""
    done = incidents.ack(session, incident_id, actor)
    audit.record(session, actor, "incidents.ack", f"acknowledged incident #{incident_id}",
                 app=done.app_name)
    return done


@router.get("/apps/{app}/maintenance")
def list_maintenance(app: str, session: SessionDep, _: ActorDep) -> list[MaintenanceView]:
    """An app's maintenance windows."""
    apps.get(session, app)
    return incidents.list_maintenance(session, app)


@router.post("/apps/{app}/maintenance", status_code=201)
def add_maintenance(app: str, body: MaintenanceIn, session: SessionDep, actor: ActorDep
                    ) -> MaintenanceView:
    """A window in which outages are checked and recorded but page nobody."""
    apps.get(session, app)
    made = incidents.add_maintenance(session, app, start=body.start, end=body.end,
                                     duration_s=body.duration_s, reason=body.reason, by=actor)
    audit.record(session, actor, "maintenance.add", f"maintenance until {made.ends_at}", app=app)
    return made


@router.delete("/maintenance/{window_id}")
def remove_maintenance(window_id: IdPath, session: SessionDep, actor: ActorDep
                       ) -> MaintenanceView:
    """End a maintenance window early."""
    done = incidents.remove_maintenance(session, window_id)
    audit.record(session, actor, "maintenance.remove", f"removed window #{window_id}",
                 app=done.app_name)
    return done


@router.post("/apps/{app}/notify/test", response_model=list[ChannelResultOut])
async def notify_test(app: str, ctx: PlatformDep, _: ActorDep) -> list[dict[str, Any]]:
    """Send a test message to every maintainer of the app; report each channel."""
    def check() -> None:
        with ctx.sessions.begin() as session:
            apps.get(session, app)

    await run_in_threadpool(check)
    results = await send_test(app, recipients_for(ctx), ctx.notifier.deliverer)
    return [r.__dict__ for r in results]


@router.post("/probes/{name}/claim")
def probe_claim(name: str, ctx: PlatformDep, _: ActorDep,
                ) -> Claim:
    """A remote probe takes its share of checks."""
    return engine.claim(ctx.sessions, _probe_name(name))


@router.post("/probes/{name}/results")
def probe_results(name: str, body: ReportIn, ctx: PlatformDep, _: ActorDep) -> ReportOut:
    """A remote probe reports check results; the answer lists re-checks to run at once."""
    return ReportOut(verify=engine.report(ctx.sessions, _probe_name(name), body.results))


def _probe_name(name: str) -> str:
    from roost.errors import InvalidInput

    if not name or len(name) > 50 or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"invalid probe name {name!r}: letters, digits, - and _")
    return name


