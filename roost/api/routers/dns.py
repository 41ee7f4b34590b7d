"""DNS as code: managed zones, their records, octoDNS YAML, plan and apply."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.dns_schemas import (
    ApplyOut,
    ExportOut,
    ImportOut,
    PlanOut,
    RecordOut,
    UnsetOut,
    ZoneOut,
    ZoneRemovedOut,
)
from roost.core import audit
from roost.dns import records as dns_records
from roost.dns import sync, yamlio, zones
from roost.orchestration import dns_flow, zone_removal

router = APIRouter(tags=["dns"])
ZONE_PATH = "/dns/zones/{zone}"


class ZoneIn(BaseModel):
    """Body of POST /dns/zones."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=253)
    provider: str = Field(min_length=1, max_length=20)
    options: dict[str, str] = Field(default_factory=dict, max_length=20)
    app: str = Field(default="", max_length=100)
    update_threshold: float = 0.3
    delete_threshold: float = 0.3


class RecordIn(BaseModel):
    """Body of PUT /dns/zones/{zone}/records: values as zone-file text."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=253)
    type: str = Field(min_length=1, max_length=40)
    values: list[str] = Field(min_length=1, max_length=100)
    ttl: int = 3600


class ImportIn(BaseModel):
    """Body of POST /dns/zones/{zone}/import: an octoDNS YAML document."""

    model_config = ConfigDict(extra="forbid")
    yaml: str = Field(max_length=yamlio.MAX_YAML_BYTES)
    source: str = Field(default="the file", max_length=300)


class ApplyIn(BaseModel):
    """Body of POST /dns/zones/{zone}/apply."""

    model_config = ConfigDict(extra="forbid")
    force: bool = False
    refresh: bool = False  # read the whole zone at the provider, not only the changed names


@router.get("/dns/zones")
def list_zones(session: SessionDep, _: ActorDep) -> list[ZoneOut]:
    """Every managed zone."""
    return [ZoneOut(**zones.view(z, len(zones.records(session, z))))
            for z in zones.list_all(session)]


@router.post("/dns/zones", status_code=201)
def add_zone(body: ZoneIn, session: SessionDep, ctx: PlatformDep, actor: ActorDep
             ) -> ZoneOut:
    """Manage a zone at a provider (nothing is sent to it until `apply`)."""
    if body.app:
        from roost.core import apps

        apps.get(session, body.app)
    zone = zones.create(session, ctx.cipher, body.name, body.provider, body.options,
                        app=body.app, update_threshold=body.update_threshold,
                        delete_threshold=body.delete_threshold)
    audit.record(session, actor, "dns.zones.add", f"{zone.name} at {zone.provider}",
                 app=body.app or None)
    return ZoneOut(**zones.view(zone, 0))


def _apply_failed(exc: sync.ApplyError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message,
                                   "applied": exc.applied, "not_applied": exc.not_applied}},
                        status_code=exc.status)


@router.delete(ZONE_PATH, response_model=ZoneRemovedOut,
               responses={502: {"description": "the provider failed while deleting records: "
                                               "the zone stays managed"}})
async def remove_zone(zone: str, ctx: PlatformDep, actor: ActorDep,
                      confirm: str = Query(default="", max_length=253),
                      delete_records: bool = False) -> ZoneRemovedOut | JSONResponse:
    """Stop managing a zone (``confirm`` repeats its name). Its records stay at the provider
    unless ``delete_records``, which deletes the ones Roost owns there first. Refused while
    a custom domain or an email domain uses the zone."""
    try:
        done = await run_in_threadpool(lambda: zone_removal.remove(
            ctx, zone, confirm=confirm, delete_records=delete_records, actor=actor))
    except sync.ApplyError as exc:
        return _apply_failed(exc)
    return ZoneRemovedOut(zone=done.zone, forgotten=done.forgotten, deleted=done.deleted)


@router.get(ZONE_PATH + "/records")
def list_records(zone: str, session: SessionDep, _: ActorDep) -> list[RecordOut]:
    """A zone's records, values as zone-file text."""
    found = zones.get(session, zone)
    return [RecordOut(**dns_records.view(found.name, r)) for r in zones.records(session, found)]


@router.put(ZONE_PATH + "/records")
def set_record(zone: str, body: RecordIn, session: SessionDep, actor: ActorDep
               ) -> RecordOut:
    """Set the record at a name and type (replacing its values)."""
    found = zones.get(session, zone)
    record = zones.put(session, found, zones.prepare(found, body.name, body.type, body.values,
                                                     ttl=body.ttl))
    shown = dns_records.view(found.name, record)
    audit.record(session, actor, "dns.set", f"{shown['fqdn']} {record.type} "
                 f"{' '.join(shown['values'])[:200]}", app=found.app or None)
    return RecordOut(**shown)


@router.delete(ZONE_PATH + "/records/{name}")
def unset_record(zone: str, name: str, session: SessionDep, actor: ActorDep,
                 type: str | None = Query(default=None, max_length=40)) -> UnsetOut:
    """Remove the records at a name (of one type, or all)."""
    found = zones.get(session, zone)
    removed = zones.remove(session, found, name, type)
    audit.record(session, actor, "dns.unset", f"{name} {' '.join(removed)} in {found.name}",
                 app=found.app or None)
    return UnsetOut(zone=found.name, name=name, removed=removed)


@router.get(ZONE_PATH + "/export")
def export_zone(zone: str, session: SessionDep, _: ActorDep) -> ExportOut:
    """The zone's records as octoDNS YAML."""
    found = zones.get(session, zone)
    return ExportOut(zone=found.name, yaml=yamlio.dump(zones.records(session, found)))


@router.post(ZONE_PATH + "/import")
def import_zone(zone: str, body: ImportIn, session: SessionDep, actor: ActorDep
                ) -> ImportOut:
    """Replace the zone's records with those of an octoDNS YAML document (not applied)."""
    found = zones.get(session, zone)
    count = zones.replace_all(session, found, yamlio.load(found.name, body.yaml, body.source))
    audit.record(session, actor, "dns.import", f"{count} records into {found.name}",
                 app=found.app or None)
    return ImportOut(zone=found.name, records=count)


@router.get(ZONE_PATH + "/plan")
async def plan_zone(zone: str, ctx: PlatformDep, _: ActorDep, refresh: bool = False
                    ) -> PlanOut:
    """What `apply` would change at the provider (``refresh``: read the whole zone there,
    not only the names changed since the last apply)."""
    found = await run_in_threadpool(lambda: dns_flow.plan(ctx, zone, refresh=refresh))
    return PlanOut(**found.view())


@router.post(ZONE_PATH + "/apply", response_model=ApplyOut,
             responses={502: {"description": "the provider failed during apply: the error "
                                             "lists the changes applied and not applied"}})
async def apply_zone(zone: str, body: ApplyIn, ctx: PlatformDep, actor: ActorDep
                     ) -> ApplyOut | JSONResponse:
    """Apply the zone's plan (refused over the safety thresholds unless forced)."""
    try:
        found, applied, batches = await run_in_threadpool(
            lambda: dns_flow.apply(ctx, zone, force=body.force, actor=actor,
                                   refresh=body.refresh))
    except sync.ApplyError as exc:
        return _apply_failed(exc)
    return ApplyOut(**found.view(), applied=applied, batches=batches)
