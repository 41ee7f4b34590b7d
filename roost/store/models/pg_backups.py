"""Logical backups of apps' PostgreSQL databases, and each app's backup schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class PgBackup(Base):
    """One ``pg_dump -Fc`` of an app's database in the object store, with what it held."""

    __tablename__ = "pg_backups"
    __table_args__ = (UniqueConstraint("app", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # By name, not a foreign key: a backup outlives the app (the final one above all).
    app: Mapped[str] = mapped_column(String(100), index=True)
    number: Mapped[int] = mapped_column(Integer)
    database: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual | scheduled
    # capturing -> captured -> verified | failed
    status: Mapped[str] = mapped_column(String(20), default="capturing")
    reason: Mapped[str] = mapped_column(Text, default="")
    object_key: Mapped[str] = mapped_column(String(500), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    table_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    schema_sha256: Mapped[str] = mapped_column(String(64), default="")
    server_version: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PgBackupSchedule(Base):
    """When an app's daily backup is taken (UTC) and the last day it was."""

    __tablename__ = "pg_backup_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), unique=True)
    at: Mapped[str] = mapped_column(String(5))  # HH:MM, UTC
    last_run_on: Mapped[str] = mapped_column(String(10), default="")  # YYYY-MM-DD
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
