"""Hosts reached over SSH and the recipes that configure them: add, list, info, remove,
plan, rolling apply, the apply log, the recipe source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep
from roost.core import audit
from roost.orchestration import hostflow
from roost.orchestration.platform import Platform
from roost.store.models.hosts import Host, HostApply

router = APIRouter(tags=["hosts"])
HostName = Annotated[str, Path(min_length=1, max_length=63)]
ROLE = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class ScanIn(BaseModel):
    """Body of POST /hosts/scan."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=300)


class ScanOut(BaseModel):
    """The host key a server presents, to be confirmed before it is pinned."""

    address: str
    port: int
    type: str
    fingerprint: str


class HostKeyIn(BaseModel):
    """Body of POST /hosts/NAME/host-key: the new fingerprint to pin (SHA256:…)."""

    model_config = ConfigDict(extra="forbid")
    host_key: str = Field(min_length=1, max_length=100)


class HostIn(BaseModel):
    """Body of POST /hosts: ``host_key`` is the fingerprint to pin (SHA256:…)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=63)
    url: str = Field(min_length=1, max_length=300)
    host_key: str = Field(min_length=1, max_length=100)
    roles: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list,
                                                              max_length=20)
    apps: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list,
                                                              max_length=50)
    private_key: str | None = Field(default=None, max_length=64_000)


class RolesIn(BaseModel):
    """Body of POST /hosts/NAME/roles: the host's roles from now on (none is allowed)."""

    model_config = ConfigDict(extra="forbid")
    roles: list[Annotated[str, Field(max_length=40)]] = Field(max_length=20)


class HostOut(BaseModel):
    """A host (never its private key)."""

    name: str
    url: str
    user: str
    address: str
    port: int
    roles: list[str]
    apps: list[str]
    host_key_type: str
    fingerprint: str
    key: str  # "own" (given at add) or "roost" (Roost's key)
    reachable: bool
    last_error: str
    conditions: dict[str, str]
    facts_at: str | None
    facts: dict[str, Any]


class TargetIn(BaseModel):
    """Which hosts: one by ``name``, those with ``role``, or every host."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=63)
    role: str = Field(default="", max_length=40)


class ApplyIn(TargetIn):
    """Body of POST /hosts/apply."""

    batch: str = Field(default="100%", max_length=8)
    max_failures: str = Field(default="0", max_length=8)


class PlanOut(BaseModel):
    """Per host: each operation (``will_change`` true, false or null) with its diff."""

    hosts: dict[str, dict[str, Any]]


class ApplyOut(BaseModel):
    """One apply: who, when, on what, and each host's result."""

    id: int
    actor: str
    target: str
    status: str
    recipes: str
    started_at: str
    finished_at: str | None
    results: dict[str, Any]


class RecipesIn(BaseModel):
    """Body of PUT /recipes."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=1000)


class RecipesOut(BaseModel):
    """Where the company's recipes come from ("" when only Roost's run)."""

    source: str
    revision: str
    set_by: str
    set_at: str | None


def host_out(row: Host, packages: bool = True) -> HostOut:
    """The API view of a host (without the package list in listings: a count instead)."""
    from roost.hosts.target import SshTarget

    return HostOut(name=row.name, url=SshTarget(row.user, row.address, row.port).url,
                   user=row.user, address=row.address, port=row.port, roles=list(row.roles),
                   apps=list(row.apps), host_key_type=row.host_key_type,
                   fingerprint=row.fingerprint,
                   key="own" if row.private_key_encrypted else "roost",
                   reachable=row.reachable, last_error=row.last_error,
                   conditions=dict(row.conditions or {}),
                   facts_at=row.facts_at.isoformat() if row.facts_at else None,
                   facts=_facts(dict(row.facts or {}), packages))


def _facts(facts: dict[str, Any], packages: bool) -> dict[str, Any]:
    facts["packages_count"] = len(facts.get("packages", []))
    if not packages:
        facts.pop("packages", None)
    return facts


def apply_out(row: HostApply) -> ApplyOut:
    """The API view of an apply."""
    return ApplyOut(id=row.id, actor=row.actor, target=row.target, status=row.status,
                    recipes=row.recipes, started_at=row.started_at.isoformat(),
                    finished_at=row.finished_at.isoformat() if row.finished_at else None,
                    results=dict(row.results or {}))


async def _audited(ctx: Platform, actor: str, action: str, summary: Callable[[Host], str],
                   change: Callable[..., Host], *args: Any) -> HostOut:
    """Run ``change`` (a hostflow function) off the event loop, record it in the audit log
    with ``summary`` of the host it returns, and return that host's API view."""
    row = await run_in_threadpool(change, *args)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, action, summary(row))
    return host_out(row)


@router.get("/hosts")
async def list_hosts(ctx: PlatformDep, _: ActorDep) -> list[HostOut]:
    """Every host with its last facts."""
    return [host_out(r, packages=False)
            for r in await run_in_threadpool(hostflow.list_all, ctx)]


@router.post("/hosts/scan")
async def scan(body: ScanIn, _: ActorDep) -> ScanOut:
    """The host key the server at ``url`` presents (nothing is stored)."""
    found = await run_in_threadpool(hostflow.scan, body.url)
    return ScanOut(**vars(found))


@router.post("/hosts", status_code=201)
async def add_host(body: HostIn, ctx: PlatformDep, actor: ActorDep) -> HostOut:
    """Pin the host key, log in and gather the first facts; nothing is stored on failure."""
    return await _audited(ctx, actor, "hosts.add",
                          lambda r: f"added host {r.name} ({r.fingerprint})",
                          hostflow.add, ctx, actor, body.name, body.url, body.host_key,
                          body.roles, body.private_key, body.apps)


@router.get("/hosts/applies")
async def list_applies(ctx: PlatformDep, _: ActorDep,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ApplyOut]:
    """The latest applies, newest first."""
    return [apply_out(r) for r in await run_in_threadpool(hostflow.applies, ctx, limit)]


@router.post("/hosts/plan")
async def plan(body: TargetIn, ctx: PlatformDep, _: ActorDep) -> PlanOut:
    """What applying the recipes would change on each host (a dry run with diffs)."""
    return PlanOut(hosts=await run_in_threadpool(hostflow.plan, ctx, body.name, body.role))


@router.post("/hosts/apply")
async def apply(body: ApplyIn, ctx: PlatformDep, actor: ActorDep) -> ApplyOut:
    """Apply the recipes in rolling batches, stopping when too many hosts fail."""
    row = await run_in_threadpool(hostflow.apply, ctx, actor, body.name, body.role,
                                  body.batch, body.max_failures)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "hosts.apply", f"apply {row.id} on {row.target}: "
                     f"{row.status}")
    return apply_out(row)


@router.get("/hosts/{name}")
async def show(name: HostName, ctx: PlatformDep, _: ActorDep, refresh: bool = False
               ) -> HostOut:
    """One host; ``refresh`` gathers its facts again first."""
    if refresh:
        await run_in_threadpool(hostflow.refresh, ctx, [name])
    return host_out(await run_in_threadpool(hostflow.get, ctx, name))


@router.post("/hosts/{name}/host-key")
async def rekey(name: HostName, body: HostKeyIn, ctx: PlatformDep, actor: ActorDep
                ) -> HostOut:
    """Pin a rebuilt host's new SSH host key, once Roost logs in with it."""
    return await _audited(ctx, actor, "hosts.rekey",
                          lambda r: f"pinned the new host key of {name} ({r.fingerprint})",
                          hostflow.rekey, ctx, name, body.host_key)


@router.post("/hosts/{name}/roles")
async def set_roles(name: HostName, body: RolesIn, ctx: PlatformDep, actor: ActorDep
                    ) -> HostOut:
    """Replace the host's roles; the next apply makes the machine match them."""
    return await _audited(ctx, actor, "hosts.roles",
                          lambda r: f"roles of {name}: {', '.join(r.roles) or '-'}",
                          hostflow.set_roles, ctx, name, body.roles)


@router.delete("/hosts/{name}")
async def remove(name: HostName, ctx: PlatformDep, actor: ActorDep) -> dict[str, str]:
    """Forget a host: its pinned key, stored private key and facts."""
    await run_in_threadpool(hostflow.remove, ctx, name)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "hosts.remove", f"removed host {name}")
    return {"removed": name}


@router.get("/recipes")
async def recipes(ctx: PlatformDep, _: ActorDep) -> RecipesOut:
    """The recipe source."""
    row = await run_in_threadpool(hostflow.recorded_source, ctx)
    if row is None:
        return RecipesOut(source="", revision="", set_by="", set_at=None)
    return RecipesOut(source=row.source, revision=row.revision, set_by=row.actor,
                      set_at=row.set_at.isoformat())


@router.put("/recipes")
async def set_recipes(body: RecipesIn, ctx: PlatformDep, actor: ActorDep) -> RecipesOut:
    """Use the recipes at ``source`` (a folder on this server or a git URL)."""
    found = await run_in_threadpool(hostflow.set_recipes, ctx, actor, body.source)
    with ctx.sessions.begin() as session:
        audit.record(session, actor, "recipes.set", f"recipes from {found.source}")
    row = await run_in_threadpool(hostflow.recorded_source, ctx)
    assert row is not None
    return RecipesOut(source=row.source, revision=row.revision, set_by=row.actor,
                      set_at=row.set_at.isoformat())
