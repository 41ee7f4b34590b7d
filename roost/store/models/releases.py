"""Builds, releases and the per-app deploy lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class Build(Base):
    """One run of the buildpacks over an uploaded source archive."""

    __tablename__ = "builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    actor: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_size: Mapped[int] = mapped_column(Integer, default=0)
    source_version: Mapped[str] = mapped_column(String(100), default="")
    slug_key: Mapped[str | None] = mapped_column(String(500))
    slug_size: Mapped[int | None] = mapped_column(Integer)
    buildpacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    durations: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    step: Mapped[str] = mapped_column(String(50), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    output_tail: Mapped[str] = mapped_column(Text, default="")
    release_number: Mapped[int | None] = mapped_column(Integer)


class Release(Base):
    """Slug + config vars + process types, numbered v1, v2, … per app."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    description: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    build_id: Mapped[int | None] = mapped_column(Integer)
    slug_key: Mapped[str | None] = mapped_column(String(500))
    slug_size: Mapped[int | None] = mapped_column(Integer)
    process_types: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    config_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # The git commit the slug was built from (a `git push` or forge webhook deploy), else "".
    commit_sha: Mapped[str] = mapped_column(String(40), default="")


class DeployLock(Base):
    """Present while a deploy of the app runs; its primary key makes a second one fail."""

    __tablename__ = "deploy_locks"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    build_id: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(200), default="")
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
