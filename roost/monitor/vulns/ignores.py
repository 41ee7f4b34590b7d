"""Accepted risks: ignore an advisory (and all its aliases) for an app until a date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import ColumnElement, String, Table, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from roost.errors import InvalidInput, NotFound
from roost.store.base import utcnow
from roost.store.models.vulns import Advisory, VulnIgnore


@dataclass
class IgnoreRule:
    """An ignore as shown to users."""

    app_name: str
    advisory_id: str
    ids: list[str]
    reason: str
    until: datetime | None
    created_at: datetime

    def active(self, now: datetime) -> bool:
        """True while the ignore has not expired."""
        return self.until is None or now < self.until


def _rule(row: VulnIgnore) -> IgnoreRule:
    return IgnoreRule(row.app_name, row.advisory_id, list(row.ids), row.reason, row.until,
                      row.created_at)


def alias_closure(session: Session, advisory_id: str) -> set[str]:
    """``advisory_id`` and every id linked to it through records' ``aliases``."""
    ids = {advisory_id}
    frontier = {advisory_id}
    while frontier:
        found: set[str] = set()
        for adv_id, aliases in session.execute(select(Advisory.id, Advisory.aliases)
                                               .where(Advisory.id.in_(sorted(frontier))))\
                :
            found.update({adv_id, *aliases})
        # Records that name one of ours as an alias (a GHSA listing the CVE we were given).
        for candidate in sorted(frontier):
            like = select(Advisory.id, Advisory.aliases).where(
                _json_contains(candidate)
            )
            for adv_id, aliases in session.execute(like):
                if candidate in aliases:
                    found.update({adv_id, *aliases})
        frontier = found - ids
        ids |= found
    return ids


def _json_contains(value: str) -> ColumnElement[bool]:
    # A text match narrows the scan on both backends; the caller checks the list exactly.
    return sql_cast(Advisory.aliases, String).like(f'%"{value}"%')


def _until(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("--until needs a timezone-aware time (or a plain date)")
        return value.astimezone(UTC)
    # A date means "through that day": the ignore ends at the next midnight UTC.
    return datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)


def ignore(session: Session, app_name: str, advisory_id: str, reason: str,
           until: datetime | date | None = None) -> IgnoreRule:
    """Ignore ``advisory_id`` and its aliases for ``app_name`` until ``until`` (None: forever)."""
    advisory_id = advisory_id.strip()
    if not advisory_id:
        raise InvalidInput("an advisory id is required (e.g. CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx)")
    if not reason.strip():
        raise InvalidInput("a reason is required: say why this risk is accepted")
    ends = _until(until)
    if ends is not None and ends <= utcnow():
        raise InvalidInput(f"--until {ends.date().isoformat()} is in the past")
    ids = sorted(alias_closure(session, advisory_id))
    row = session.scalar(select(VulnIgnore).where(VulnIgnore.app_name == app_name,
                                                  VulnIgnore.advisory_id == advisory_id))
    if row is None:
        row = VulnIgnore(app_name=app_name, advisory_id=advisory_id, ids=ids,
                         reason=reason.strip(), until=ends, created_at=utcnow())
        session.add(row)
    else:
        row.ids, row.reason, row.until = ids, reason.strip(), ends
    session.flush()
    return _rule(row)


def unignore(session: Session, app_name: str, advisory_id: str) -> None:
    """Remove an ignore; NotFound when there is none."""
    row = session.scalar(select(VulnIgnore).where(VulnIgnore.app_name == app_name,
                                                  VulnIgnore.advisory_id == advisory_id))
    if row is None:
        raise NotFound(f"{app_name} has no ignore for {advisory_id}")
    session.delete(row)
    session.flush()


def list_ignores(session: Session, app_name: str) -> list[IgnoreRule]:
    """Every ignore of an app, expired ones included."""
    rows = session.scalars(select(VulnIgnore).where(VulnIgnore.app_name == app_name)
                           .order_by(VulnIgnore.advisory_id))
    return [_rule(r) for r in rows]


def ignored_ids(session: Session, app_name: str, now: datetime | None = None) -> set[str]:
    """Every advisory id an active ignore of ``app_name`` covers."""
    now = now or utcnow()
    c = cast(Table, VulnIgnore.__table__).c  # Core: every scan asks, often in a fresh process
    rows = session.execute(select(c.ids, c.until).where(c.app_name == app_name))
    return {i for ids, until in rows if until is None or now < until for i in ids}
