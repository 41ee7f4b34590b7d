"""Apps, their maintainers and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.routers import perf
from roost.api.schemas import (
    AppCreate,
    AppOut,
    AuditOut,
    ChannelStatusOut,
    MaintainerIn,
    MaintainerOut,
)
from roost.core import apps, audit, maintainers, telemetry
from roost.gitserve import repos
from roost.mail import events
from roost.mail.domains import PLATFORM
from roost.notify import outbox
from roost.orchestration import vm_apps
from roost.store.models import App, Maintainer

router = APIRouter(tags=["apps"])


def maintainer_out(m: Maintainer, session: Session | None = None) -> MaintainerOut:
    """API view of a maintainer; with a session, each channel's last delivery and error."""
    channels = [ChannelStatusOut(**vars(c))
                for c in outbox.channel_status(session, f"maintainer:{m.id}")] if session else []
    mail = events.trouble_of(session, PLATFORM, m.email) if session and m.email else ""
    return MaintainerOut(id=m.id, name=m.name, email=m.email, phone=m.phone, notify=m.notify_urls,
                         channels=channels, mail=mail)


def app_out(app: App, ctx: PlatformDep) -> AppOut:
    """API view of an app."""
    s = ctx.settings
    port = s.router_listen.rpartition(":")[2]
    return AppOut(name=app.name, created_at=app.created_at,
                  maintainers=[maintainer_out(m) for m in app.maintainers],
                  web_url=f"http://{app.name}.{s.base_domain}:{port}",
                  **vm_apps.runtime_of(app))


@router.get("/apps")
def list_apps(session: SessionDep, ctx: PlatformDep, _: ActorDep) -> list[AppOut]:
    """Every app."""
    return [app_out(a, ctx) for a in apps.list_all(session, with_maintainers=True)]


@router.post("/apps", status_code=201)
def create_app(body: AppCreate, session: SessionDep, ctx: PlatformDep, actor: ActorDep) -> AppOut:
    """Create an app (``runtime`` vm: on the VM ``host``, which must exist)."""
    host = vm_apps.check_placement(ctx, session, body.runtime, body.host)
    created = apps.create(session, body.name, actor)
    if host is not None:
        vm_apps.place(session, created, host)
    telemetry.provision(session, ctx.cipher, created, ctx.settings.api_url)
    return app_out(created, ctx)


@router.get("/apps/{app}")
def get_app(app: str, session: SessionDep, ctx: PlatformDep, _: ActorDep) -> AppOut:
    """One app."""
    return app_out(apps.get(session, app), ctx)


@router.delete("/apps/{app}", status_code=204)
def destroy_app(
    app: str, session: SessionDep, ctx: PlatformDep, actor: ActorDep,
    confirm: str = Query(default=""),
) -> Response:
    """Destroy an app; ``confirm`` must repeat its name."""
    app_id = apps.get(session, app).id
    apps.destroy(session, app, confirm, actor)
    session.commit()
    repos.remove_repo(ctx.settings.home, app_id)  # its git repository
    perf.forget_keys(ctx, app)  # its ingest key stops working now, not when the cache expires
    runtime = ctx.runtime
    if runtime is not None:
        runtime.remove(app)
    return Response(status_code=204)


@router.get("/apps/{app}/maintainers")
def list_maintainers(app: str, session: SessionDep, _: ActorDep) -> list[MaintainerOut]:
    """The maintainers of an app."""
    return [maintainer_out(m, session) for m in maintainers.list_for(session, app)]


@router.post("/apps/{app}/maintainers", status_code=201)
def add_maintainer(
    app: str, body: MaintainerIn, session: SessionDep, actor: ActorDep
) -> MaintainerOut:
    """Add a maintainer."""
    m = maintainers.add(session, app, body.name, body.email, body.phone, body.notify, actor)
    return maintainer_out(m)


@router.delete("/apps/{app}/maintainers/{email_or_phone}")
def remove_maintainer(
    app: str, email_or_phone: str, session: SessionDep, actor: ActorDep
) -> MaintainerOut:
    """Remove the maintainer with that email or phone."""
    return maintainer_out(maintainers.remove(session, app, email_or_phone, actor))


@router.get("/audit")
def audit_log(
    session: SessionDep, _: ActorDep, app: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AuditOut]:
    """The newest audit entries."""
    return [AuditOut(at=e.at, actor=e.actor, action=e.action, app=e.app_name, summary=e.summary)
            for e in audit.entries(session, app, limit)]
