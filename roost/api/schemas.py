"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roost.monitor.uptime.service import Liveness
from roost.monitor.vulns.findings import Location, NotEvaluated


class AppCreate(BaseModel):
    """Body of POST /apps."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="lowercase letters, digits, dashes")
    runtime: str | None = Field(default=None, max_length=20,
                                description="vm: run on a VM (give host); else the platform's")
    host: str | None = Field(default=None, max_length=63, description="the VM (runtime vm)")


class MaintainerIn(BaseModel):
    """Body of POST /apps/{app}/maintainers."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    notify: list[str] = Field(default_factory=list, max_length=20)


class ChannelStatusOut(BaseModel):
    """How delivery to one of a maintainer's addresses went lately."""

    channel: str
    address: str
    last_sent_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


class MaintainerOut(BaseModel):
    """A maintainer as the API shows it, with each channel's last delivery error."""

    id: int
    name: str
    email: str | None
    phone: str | None
    notify: list[str]
    channels: list[ChannelStatusOut] = []
    mail: str = ""  # the latest bounce or complaint of the platform's mail to them


class AppOut(BaseModel):
    """An app as the API shows it."""

    name: str
    created_at: datetime
    maintainers: list[MaintainerOut] = []
    web_url: str | None = None
    runtime: str = "local"  # "vm": on the VM ``host``, its web socket on ``port`` there
    host: str | None = None
    port: int | None = None


class ConfigSet(BaseModel):
    """Body of PATCH /apps/{app}/config: vars to set."""

    model_config = ConfigDict(extra="forbid")
    vars: dict[str, str] = Field(min_length=1)


class ConfigUnset(BaseModel):
    """Body of POST /apps/{app}/config/unset: keys to remove."""

    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(min_length=1)


class ConfigChange(BaseModel):
    """What a config change did."""

    changed: list[str]
    release: int | None = None
    error: str = ""


class AuditOut(BaseModel):
    """One audit log entry."""

    at: datetime
    actor: str
    action: str
    app: str | None
    summary: str


class HealthOut(BaseModel):
    """GET /health: the control plane, its store, and the uptime watcher's liveness."""

    status: str = Field(description="ok, or degraded when the store does not answer")
    version: str
    store: str = Field(description="ok or unreachable")
    uptime: Liveness | None = Field(default=None, description="absent when the store is down")


class InstanceOut(BaseModel):
    """A control-plane instance (one `roost up`)."""

    name: str
    host: str
    address: str = Field(description="its API URL")
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    live: bool = Field(description="heartbeat within three beats")
    holds: list[str] = Field(description="the run-once work it runs (leases)")
    this: bool = Field(description="the instance that answered")


class BuildOut(BaseModel):
    """A build as the API shows it."""

    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    actor: str
    slug_size: int | None
    source_size: int
    buildpacks: list[str]
    release: int | None = Field(description="the release it produced")
    durations: dict[str, float] = Field(description="seconds per build step")
    step: str = Field(description="the step that failed, when it failed")
    error: str


class ReleaseOut(BaseModel):
    """A release as the API shows it."""

    version: int
    status: str
    description: str
    created_at: datetime
    actor: str
    slug_key: str | None
    slug_size: int | None
    process_types: dict[str, str]
    build: int | None
    current: bool
    error: str
    meta: dict[str, Any]
    commit: str = Field(default="", description="the git commit deployed (git push, webhook)")


class ReleaseDetail(ReleaseOut):
    """One release, with the names (not the values) of its config vars."""

    config_keys: list[str]


class BuildpacksOut(BaseModel):
    """An app's buildpacks in order (empty: its .buildpacks file, else auto-detection)."""

    buildpacks: list[str]


class ProcessOut(BaseModel):
    """One process of an app's formation (``web.1``)."""

    name: str
    type: str
    number: int
    state: str
    release: int
    uptime_s: float
    restarts: int
    pid: int
    node: str | None = None  # the swarm node it runs on (swarm runtime only)


class RestartOut(BaseModel):
    """What POST /apps/{app}/restart restarted."""

    restarted: str = Field(description="a process type, or all")


class AssetUsageOut(BaseModel):
    """Count, size and last publish of an app's assets."""

    files: int
    objects: int
    total_bytes: int
    last_published: datetime | None
    releases: list[int]
    asset_host: str


class PublishPlanOut(BaseModel):
    """What publishing the current release's static folder would do."""

    new: list[str]
    unchanged: int
    to_delete: list[str]
    bytes_new: int


class AssetGcOut(BaseModel):
    """What an asset garbage collection deleted (or would delete, with dry_run)."""

    deleted: list[str]
    deleted_manifests: list[int]
    kept: int
    bytes_freed: int
    dry_run: bool


class AssetFolderOut(BaseModel):
    """The app's static folder; null: detected."""

    dir: str | None


class AdvisorySourceOut(BaseModel):
    """One imported advisory source."""

    source: str
    imported_at: datetime
    records: int


class AdvisoryDbOut(BaseModel):
    """Advisory counts per ecosystem and the last update."""

    per_ecosystem: dict[str, int]
    total: int
    withdrawn: int
    last_update: datetime | None
    sources: list[AdvisorySourceOut]


class AdvisoryImportOut(BaseModel):
    """What an advisory import did, and the apps re-scanned (findings per app)."""

    added: int
    updated: int
    unchanged: int
    changed_packages: int
    rescanned: dict[str, int]


class VulnFindingOut(BaseModel):
    """One vulnerable dependency and the advisory that affects it."""

    id: str
    ids: list[str]
    ecosystem: str
    package: str
    version: str
    fixed: str | None
    severity: str | None
    score: float | None
    summary: str
    lockfile: str
    line: int | None
    dev: bool
    locations: list[Location]
    first_seen: str | None = Field(description="ISO 8601")
    new: bool
    ignored: bool


class VulnReportOut(BaseModel):
    """An app's findings from its last scan."""

    app: str
    lockfiles: list[str]
    dependencies: int
    findings: list[VulnFindingOut]
    ignored: list[VulnFindingOut]
    not_evaluated: list[NotEvaluated]


class SarifLogOut(BaseModel):
    """The same findings as a SARIF 2.1.0 log (``format=sarif``)."""

    schema_: str = Field(alias="$schema")
    version: str
    runs: list[dict[str, Any]] = Field(description="one run; see the SARIF 2.1.0 schema")


class IgnoreOut(BaseModel):
    """An accepted risk: an advisory (and its aliases) ignored for an app."""

    id: str
    ids: list[str]
    reason: str
    until: datetime | None
    created_at: datetime


class ChannelResultOut(BaseModel):
    """The outcome of one test message on one channel."""

    recipient: str
    channel: str
    address: str
    ok: bool
    detail: str
