"""Data exchanged between the store, the checks and probes (also the probe wire format)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The control-plane endpoints a remote probe talks to; the API layer serves them.
CLAIM_PATH = "/api/v1/probes/{name}/claim"
RESULTS_PATH = "/api/v1/probes/{name}/results"


class MonitorSpec(BaseModel):
    """What a probe needs to run one monitor's check."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    target: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    expected_status: list[int] = Field(default_factory=list)
    max_response_ms: int | None = None
    body_contains: str | None = None
    body_regex: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    tls_warn_days: int = 14
    interval_s: float = 30.0
    timeout_s: float = 10.0


class ProbeResult(BaseModel):
    """One check's outcome as a probe reports it."""

    monitor_id: int = Field(ge=1, le=2**31 - 1)  # a stored monitor's id
    at: datetime
    ok: bool
    status: int | None = Field(default=None, ge=0, le=999)  # the HTTP status, if any
    latency_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    error: str | None = None
    body_head: str | None = None
    # A re-check asked for by the control plane to confirm another probe's finding.
    verify: bool = False


class Claim(BaseModel):
    """A probe's share of monitors and the re-checks it is asked to run now."""

    probe: str
    monitors: list[MonitorSpec]
    verify: list[MonitorSpec] = Field(default_factory=list)
    # Monitors of this share not checked for over an interval (their probe died, or Roost was
    # down): checked soon after they are adopted rather than at their next phase.
    overdue: list[int] = Field(default_factory=list)


class ReportIn(BaseModel):
    """Body of a probe's results report."""

    results: list[ProbeResult] = Field(default_factory=list)


class ReportOut(BaseModel):
    """Answer to a results report: re-checks to run at once."""

    verify: list[MonitorSpec] = Field(default_factory=list)


class MonitorView(MonitorSpec):
    """A monitor as the API and CLI show it."""

    app_name: str
    name: str = ""
    confirm_failures: int
    confirm_successes: int
    owner: str
    paused: bool
    created_at: datetime
    state: str
    state_since: datetime | None
    flapping: bool
    last_check_at: datetime | None


class CheckView(BaseModel):
    """One stored check result."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    probe: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str | None


class IncidentView(BaseModel):
    """An incident as the API and CLI show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    monitor_id: int
    app_name: str
    started_at: datetime
    confirmed_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ended_at: datetime | None
    cause: str
    evidence: dict[str, Any]
    probes: list[str]
    note: str
    paged_at: datetime | None
    flapping: bool
    suppressed: bool


class DayBar(BaseModel):
    """One day of a 90-day uptime bar."""

    day: str
    checks: int
    failures: int
    uptime: float | None


class MonitorInfo(BaseModel):
    """`roost monitors info ID`: the monitor, its uptime figures and latest checks."""

    monitor: MonitorView
    uptime: dict[str, float | None]
    last_checks: list[CheckView]
    open_incident: IncidentView | None


class MaintenanceView(BaseModel):
    """A maintenance window."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    app_name: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
