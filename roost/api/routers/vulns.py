"""Vulnerability alerts: the advisory database, each app's findings, and ignores."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import (
    AdvisoryDbOut,
    AdvisoryImportOut,
    IgnoreOut,
    SarifLogOut,
    VulnReportOut,
)
from roost.core import apps, audit
from roost.errors import InvalidInput
from roost.monitor import vulns
from roost.orchestration import vulnwatch

router = APIRouter(tags=["vulns"])
MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024


class IgnoreIn(BaseModel):
    """Body of POST /apps/{app}/vulns/ignores."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100, description="CVE, GHSA, PYSEC… id")
    reason: str = Field(min_length=1, max_length=1000)
    until: date | None = Field(default=None, description="the ignore ends after this day")


def _db_out(stats: vulns.DbStats) -> dict[str, Any]:
    return {"per_ecosystem": stats.per_ecosystem, "total": stats.total,
            "withdrawn": stats.withdrawn, "last_update": stats.last_update,
            "sources": [{"source": s, "imported_at": at, "records": n}
                        for s, at, n in stats.sources]}


def _import_out(result: vulns.ImportResult, rescanned: dict[str, int]) -> dict[str, Any]:
    return {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
            "changed_packages": len(result.changed_keys), "rescanned": rescanned}


@router.get("/vulns/db", response_model=AdvisoryDbOut)
def db_stats(session: SessionDep, _: ActorDep) -> dict[str, Any]:
    """Advisory counts per ecosystem and the last update."""
    return _db_out(vulns.stats(session))


@router.post("/vulns/db/import", response_model=AdvisoryImportOut)
async def db_import(request: Request, ctx: PlatformDep, actor: ActorDep,
                    url: str | None = Query(default=None, max_length=2000)) -> dict[str, Any]:
    """Import OSV records: a zip body (OSV's all.zip format) or ``?url=`` of such a zip."""
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"invalid url {url!r}: give an http(s) URL of an OSV zip")
        result, rescanned = await run_in_threadpool(vulnwatch.import_and_rescan, ctx, url)
    else:
        with tempfile.TemporaryDirectory(prefix="roost-osv-") as tmp:
            target = Path(tmp) / "advisories.zip"
            size = 0
            with target.open("wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_IMPORT_BYTES:
                        raise InvalidInput("advisory upload over 2 GB")
                    fh.write(chunk)
            if size == 0:
                raise InvalidInput("empty upload: send a zip of OSV JSON files, or ?url=")
            result, rescanned = await run_in_threadpool(vulnwatch.import_and_rescan, ctx,
                                                        target)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "vulns.import", f"imported {result.added} new, "
                     f"{result.updated} updated advisories")
    return _import_out(result, rescanned)


@router.post("/vulns/db/update", response_model=AdvisoryImportOut)
async def db_update(ctx: PlatformDep, actor: ActorDep) -> dict[str, Any]:
    """Re-import every configured advisory source, then re-scan affected apps."""
    result, rescanned = await run_in_threadpool(vulnwatch.update_and_rescan, ctx)
    return _import_out(result, rescanned)


@router.get("/apps/{app}/vulns", response_model=VulnReportOut | SarifLogOut)
def app_vulns(app: str, session: SessionDep, _: ActorDep,
              format: str = Query(default="json", pattern="^(json|sarif)$")) -> dict[str, Any]:
    """An app's findings from its last scan (ignored ones flagged), as JSON or SARIF."""
    apps.get(session, app)
    report = vulns.app_report(session, app)
    return vulns.to_sarif(report) if format == "sarif" else vulns.to_json(report)


def _ignore_out(rule: vulns.IgnoreRule) -> dict[str, Any]:
    return {"id": rule.advisory_id, "ids": rule.ids, "reason": rule.reason, "until": rule.until,
            "created_at": rule.created_at}


@router.get("/apps/{app}/vulns/ignores", response_model=list[IgnoreOut])
def list_ignores(app: str, session: SessionDep, _: ActorDep) -> list[dict[str, Any]]:
    """The app's ignores."""
    apps.get(session, app)
    return [_ignore_out(r) for r in vulns.list_ignores(session, app)]


@router.post("/apps/{app}/vulns/ignores", status_code=201, response_model=IgnoreOut)
def add_ignore(app: str, body: IgnoreIn, session: SessionDep, actor: ActorDep
               ) -> dict[str, Any]:
    """Accept a risk until a date; covers every alias of the id."""
    apps.get(session, app)
    rule = vulns.ignore(session, app, body.id, body.reason, body.until)
    audit.record(session, actor, "vulns.ignore", f"ignored {body.id} until {body.until}",
                 app=app)
    return _ignore_out(rule)


@router.delete("/apps/{app}/vulns/ignores/{advisory_id}", status_code=204)
def remove_ignore(app: str, advisory_id: str, session: SessionDep, actor: ActorDep) -> None:
    """Stop ignoring an advisory."""
    apps.get(session, app)
    vulns.unignore(session, app, advisory_id)
    audit.record(session, actor, "vulns.unignore", f"stopped ignoring {advisory_id}", app=app)
