"""Vulnerability alerts: the OSV advisory database, app dependencies, findings and ignores."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class Advisory(Base):
    """One OSV record as imported; withdrawn records are kept but never matched."""

    __tablename__ = "vuln_advisories"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ecosystems: Mapped[list[str]] = mapped_column(JSON, default=list)
    modified: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    raw: Mapped[str] = mapped_column(Text)


class AdvisoryPackage(Base):
    """Index row: an advisory affects (ecosystem, normalised name); ``affected`` holds the
    record's versions and ranges for that package as compact JSON, ``matcher`` the same
    compiled for matching (versions parsed to order keys, events sorted; see
    ``roost.monitor.vulns.matcher``), so a scan parses no advisory version; ``not_evaluated``
    says why a range could not be read (NULL when every range was)."""

    __tablename__ = "vuln_advisory_packages"

    ecosystem: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    advisory_id: Mapped[str] = mapped_column(
        ForeignKey("vuln_advisories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    affected: Mapped[str] = mapped_column(Text)
    matcher: Mapped[str | None] = mapped_column(Text, nullable=True)
    not_evaluated: Mapped[str | None] = mapped_column(Text, nullable=True)


class AdvisorySource(Base):
    """A source the database was imported from, and when."""

    __tablename__ = "vuln_advisory_sources"

    source: Mapped[str] = mapped_column(String(1000), primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    records: Mapped[int] = mapped_column(Integer, default=0)


class AppDependency(Base):
    """A package an app's lockfiles name, as of its last scan."""

    __tablename__ = "vuln_app_dependencies"
    __table_args__ = (Index("ix_vuln_app_dependencies_key", "ecosystem", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(64), index=True)
    ecosystem: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    lockfile: Mapped[str] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dev: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluated: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(255), default="")


class VulnFinding(Base):
    """One open finding: (app, package, advisory alias group), with when it was first seen."""

    __tablename__ = "vuln_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(64), index=True)
    ecosystem: Mapped[str] = mapped_column(String(64))
    package: Mapped[str] = mapped_column(String(255))
    ids: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(255))
    lockfile: Mapped[str] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    fixed: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dev: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VulnIgnore(Base):
    """An accepted risk: findings sharing any of ``ids`` are hidden until ``until``."""

    __tablename__ = "vuln_ignores"
    __table_args__ = (UniqueConstraint("app_name", "advisory_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(64), index=True)
    advisory_id: Mapped[str] = mapped_column(String(128))
    ids: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
