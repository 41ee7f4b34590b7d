"""The control plane's instances (each `roost up`) and the leases on run-once work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class Instance(Base):
    """One running `roost up`, kept alive by its heartbeat."""

    __tablename__ = "instances"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))  # its API URL
    pid: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(64))  # tells this run from an earlier one
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    holds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # swarm: HOST:PORT where it serves slugs to tasks ("" when it does not)
    slug_address: Mapped[str] = mapped_column(String(255), default="", server_default="")


class Lease(Base):
    """Who runs a piece of run-once work (``name``) until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
