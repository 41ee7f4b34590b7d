"""Instances of the control plane and leases on run-once work, in the store.

A lease is a row naming its holder and when it expires; taking it is one conditional
``UPDATE`` (free, expired, or already ours), or an ``INSERT`` the primary key lets only one
instance win. That is atomic on PostgreSQL and on SQLite alike, so the same code serves one
host and many.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost.store.models.cluster import Instance, Lease


def take_lease(session: Session, name: str, holder: str, ttl: timedelta,
               now: datetime) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; False when another
    live holder has it."""
    done = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(acquired_at=case((Lease.holder == holder, Lease.acquired_at), else_=now),
                holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False))
    if done.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl, acquired_at=now))
    except IntegrityError:  # someone else holds it
        return False
    return True


def renew_leases(session: Session, holder: str, ttl: timedelta, now: datetime) -> list[str]:
    """Extend every unexpired lease of ``holder``; returns their names."""
    names = list(session.scalars(select(Lease.name).where(
        Lease.holder == holder, Lease.expires_at >= now)))
    if names:
        session.execute(update(Lease).where(Lease.name.in_(names))
                        .values(expires_at=now + ttl)
                        .execution_options(synchronize_session=False))
    return sorted(names)


def drop_holder(session: Session, holder: str) -> None:
    """Remove ``holder``'s instance row and free its leases (a clean stop)."""
    session.execute(delete(Lease).where(Lease.holder == holder))
    session.execute(delete(Instance).where(Instance.name == holder))


def live_instances(session: Session, now: datetime, dead_after: timedelta) -> list[Instance]:
    """Instances whose heartbeat is recent, by name."""
    return list(session.scalars(select(Instance).where(
        Instance.heartbeat_at >= now - dead_after).order_by(Instance.name)))


def all_instances(session: Session) -> list[Instance]:
    """Every recorded instance, live or not, by name."""
    return list(session.scalars(select(Instance).order_by(Instance.name)))
