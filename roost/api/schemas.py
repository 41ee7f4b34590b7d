"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AppCreate(BaseModel):
    """Body of POST /apps."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="lowercase letters, digits, dashes")


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


class AppOut(BaseModel):
    """An app as the API shows it."""

    name: str
    created_at: datetime
    maintainers: list[MaintainerOut] = []
    web_url: str | None = None


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
