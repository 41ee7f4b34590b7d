"""Response bodies of the DNS and custom-domain endpoints (documented in the OpenAPI spec)."""

from __future__ import annotations

from pydantic import BaseModel


class ZoneOut(BaseModel):
    """A managed zone (never its secrets)."""

    name: str
    provider: str
    records: int
    options: dict[str, str]
    app: str
    update_threshold: float
    delete_threshold: float
    applied_at: str | None
    checked_at: str | None
    drift: str


class RecordOut(BaseModel):
    """A record set, values as zone-file text."""

    name: str
    fqdn: str
    type: str
    ttl: int
    values: list[str]
    owner: str


class UnsetOut(BaseModel):
    """What `unset` removed."""

    zone: str
    name: str
    removed: list[str]


class ZoneRemovedOut(BaseModel):
    """What removing a zone did: records forgotten, changes applied at the provider."""

    zone: str
    forgotten: int
    deleted: list[str]


class ExportOut(BaseModel):
    """A zone as octoDNS YAML."""

    zone: str
    yaml: str


class ImportOut(BaseModel):
    """What an import stored."""

    zone: str
    records: int


class ChangeOut(BaseModel):
    """One change of a plan."""

    action: str
    name: str
    type: str
    old: list[str]
    new: list[str]
    old_ttl: int | None
    new_ttl: int | None
    ownership: bool
    line: str


class PlanOut(BaseModel):
    """What applying a zone would change; ``unsafe`` names a threshold passed."""

    zone: str
    changes: list[ChangeOut]
    counts: dict[str, int]
    existing: int
    unsafe: str
    read: str = ""  # what was read live when not the whole zone (empty: the whole zone)


class ApplyOut(PlanOut):
    """What an apply did: the changes applied and the batch sizes sent."""

    applied: int
    batches: list[int]


class DomainOut(BaseModel):
    """A custom domain with its DNS, certificate and monitor state."""

    hostname: str
    app: str
    zone: str
    record: str
    dns: str
    message: str
    monitor: str
    monitor_id: int | None
    certificate: str


class DomainRemoved(BaseModel):
    """What removing a domain did."""

    removed: str
    app: str
