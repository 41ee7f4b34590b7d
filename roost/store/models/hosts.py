"""Machines reached over SSH, the recipes that configure them, and each apply's record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class Host(Base):
    """One machine: where it is, its pinned SSH host key, its roles and its last facts."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    user: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=22)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    apps: Mapped[list[str]] = mapped_column(JSON, default=list)  # apps whose people hear of it
    host_key_type: Mapped[str] = mapped_column(String(64))
    host_key: Mapped[str] = mapped_column(Text)  # base64, as in known_hosts
    fingerprint: Mapped[str] = mapped_column(String(100))  # SHA256:…
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    facts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reachable: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    # condition -> ISO time it was first seen (disk, reboot, security, unreachable)
    conditions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HostApply(Base):
    """One `roost hosts apply`: who ran it, on what, and each host's result."""

    __tablename__ = "host_applies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))  # "all", a host name or "role:R"
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|failed|stopped
    # host -> {"status": ok|failed|skipped, "changed": n, "unchanged": n, "error": "..."}
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipes: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecipeSource(Base):
    """Where the company's recipes are: a folder or a git URL (one row)."""

    __tablename__ = "recipe_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    revision: Mapped[str] = mapped_column(String(64), default="")  # git commit, when git
    actor: Mapped[str] = mapped_column(String(100), default="")
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
