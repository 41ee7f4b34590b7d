"""The control plane's side of checking: hand out shares of monitors, digest results.

Every probe (the control plane's own ``local`` one and each remote ``roost probe``) calls
:func:`claim_checks` for its share and :func:`report_results` with what it saw. Results
drive each monitor's state machine (up -> down -> up). An outage confirmed at one probe
is re-checked at once by another live probe; the incident is confirmed only if that probe
agrees, so a fault in one location's network pages nobody.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.monitor.uptime import flapping, stats
from roost.monitor.uptime.specs import Claim, MonitorSpec, ProbeResult
from roost.store.base import utcnow
from roost.store.models.uptime import CheckResult, Incident, Monitor, Probe
from roost.store.session import transaction

# One process digests one batch at a time: SQLite has no row locks, and a probe's report
# and the verifying probe's answer may arrive together.
_LOCK = threading.RLock()


@dataclass(frozen=True)
class EngineConfig:
    """How probes are judged alive and how long a second opinion is awaited."""

    # A probe (each control-plane instance is one) silent this long has its monitors handed
    # to the others; with claims refreshed every 10 s that is well within a 60 s interval.
    probe_dead_after_s: float = 25.0
    verify_timeout_s: float = 30.0


DUE_MARGIN_S = 5.0


def _weight(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def owner_of(monitor_id: int, probes: list[str]) -> str:
    """The probe that runs a monitor's checks (rendezvous hashing: stable as probes come)."""
    return max(probes, key=lambda p: _weight(f"{monitor_id}/{p}"))


def touch_probe(session: Session, name: str, now: datetime) -> None:
    """Record that ``name`` is alive."""
    if not name or len(name) > 100:
        raise InvalidInput("a probe needs a name of 1 to 100 characters")
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(Probe).values(name=name, last_seen=now, registered_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                               set_={"last_seen": now}))


def live_probes(session: Session, now: datetime, cfg: EngineConfig) -> list[str]:
    """Names of probes seen recently, sorted."""
    since = now - timedelta(seconds=cfg.probe_dead_after_s)
    return sorted(session.scalars(select(Probe.name).where(Probe.last_seen >= since)))


def _specs(monitors: list[Monitor]) -> list[MonitorSpec]:
    return [MonitorSpec.model_validate(m) for m in monitors]


def claim_checks(
    session: Session, probe_name: str, *, now: datetime | None = None,
    cfg: EngineConfig | None = None,
) -> Claim:
    """The monitors ``probe_name`` should check, and re-checks it must run now."""
    now, cfg = now or utcnow(), cfg or EngineConfig()
    with _LOCK:
        touch_probe(session, probe_name, now)
        probes = live_probes(session, now, cfg)
        active = list(session.scalars(select(Monitor).where(Monitor.paused.is_(False))))
        mine = [m for m in active if owner_of(m.id, probes) == probe_name]
        verify = [m for m in active if m.verify_probe == probe_name]
        # Due (or nearly: a loaded probe runs checks a little after their phase): only
        # monitors a probe newly adopts are caught up (scheduler.py), so for a live probe's
        # own share this changes nothing.
        overdue = [m.id for m in mine if m.last_check_at is not None and (
            now - m.last_check_at).total_seconds() >= m.interval_s - DUE_MARGIN_S]
        return Claim(probe=probe_name, monitors=_specs(mine), verify=_specs(verify),
                     overdue=overdue)


def report_results(
    session: Session, probe_name: str, results: list[ProbeResult], *,
    now: datetime | None = None, cfg: EngineConfig | None = None,
) -> list[MonitorSpec]:
    """Store a probe's results, advance each monitor's state; returns re-checks to run now."""
    now, cfg = now or utcnow(), cfg or EngineConfig()
    with _LOCK:
        touch_probe(session, probe_name, now)
        ids = sorted({r.monitor_id for r in results})
        query = select(Monitor).where(Monitor.id.in_(ids)).order_by(Monitor.id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        monitors = {m.id: m for m in session.scalars(query)} if ids else {}
        kept = [r for r in sorted(results, key=lambda r: r.at) if r.monitor_id in monitors]
        if kept:
            session.execute(insert(CheckResult), [
                {"monitor_id": r.monitor_id, "probe": probe_name, "at": r.at, "ok": r.ok,
                 "status": r.status, "latency_ms": r.latency_ms,
                 "error": (r.error or "")[:300] or None}
                for r in kept
            ])
            stats.add_to_rollups(session, ((r.monitor_id, r.at, r.ok, r.latency_ms)
                                           for r in kept if not r.verify))
        probes: list[str] | None = None
        for r in kept:
            m = monitors[r.monitor_id]
            if m.paused:
                continue
            if r.verify:
                _verified(session, m, probe_name, r, now)
                continue
            if probes is None:
                probes = live_probes(session, now, cfg)
            _advance(session, m, probe_name, r, now, probes)
        _expire_verifications(session, now, cfg)
        session.flush()
        pending = session.scalars(
            select(Monitor).where(Monitor.verify_probe == probe_name, Monitor.paused.is_(False))
        ).all()
        return _specs(list(pending))


def claim(factory: sessionmaker[Session], probe_name: str,
          cfg: EngineConfig | None = None) -> Claim:
    """:func:`claim_checks` in its own transaction (what the probe endpoint calls)."""
    with _LOCK, transaction(factory) as session:
        return claim_checks(session, probe_name, cfg=cfg)


def report(factory: sessionmaker[Session], probe_name: str, results: list[ProbeResult],
           cfg: EngineConfig | None = None) -> list[MonitorSpec]:
    """:func:`report_results` in its own transaction, committed before another runs."""
    with _LOCK, transaction(factory) as session:
        return report_results(session, probe_name, results, cfg=cfg)


def _open_incident(session: Session, monitor_id: int) -> Incident | None:
    return session.scalars(
        select(Incident).where(Incident.monitor_id == monitor_id, Incident.ended_at.is_(None))
        .order_by(Incident.id.desc()).limit(1)
    ).first()


def _evidence(r: ProbeResult, probe: str) -> dict[str, object]:
    return {"probe": probe, "at": r.at.isoformat(), "status": r.status, "error": r.error,
            "latency_ms": round(r.latency_ms, 1), "body_head": (r.body_head or "")[:512]}


def _confirm(m: Monitor, incident: Incident, probes: list[str], now: datetime) -> None:
    incident.confirmed_at = now
    incident.probes = probes
    incident.flapping = m.flapping
    m.state, m.state_since = "down", incident.started_at
    m.verify_probe = m.verify_requested_at = None


def _advance(
    session: Session, m: Monitor, probe: str, r: ProbeResult, now: datetime, probes: list[str],
) -> None:
    m.last_check_at = r.at
    m.history = (m.history + ("u" if r.ok else "d"))[-flapping.WINDOW:]
    flapping.evaluate(session, m, now)
    if r.ok:
        m.ok_streak, m.fail_streak, m.first_fail_at = m.ok_streak + 1, 0, None
        if m.verify_probe is not None:
            # Recovered before a second probe could confirm: a blip, not an outage.
            incident = _open_incident(session, m.id)
            if incident is not None and incident.confirmed_at is None:
                incident.ended_at = r.at
                incident.note = f"recovered at {probe} before a second probe confirmed"
            m.verify_probe = m.verify_requested_at = None
        if m.state == "unknown" or (m.state == "down" and m.ok_streak >= m.confirm_successes):
            incident = _open_incident(session, m.id)
            if incident is not None:
                incident.ended_at = r.at
                if incident.confirmed_at is None and not incident.note:
                    # Its second opinion was lost (e.g. the monitor moved between probes):
                    # it was never an outage, and the incident says so.
                    incident.note = f"recovered at {probe} before a second probe confirmed"
            m.state, m.state_since = "up", r.at
        return
    m.fail_streak, m.ok_streak = m.fail_streak + 1, 0
    m.first_fail_at = m.first_fail_at or r.at
    if m.state == "down" or m.verify_probe is not None or m.fail_streak < m.confirm_failures:
        return
    if _open_incident(session, m.id) is not None:
        return
    incident = Incident(
        monitor_id=m.id, app_name=m.app_name, started_at=m.first_fail_at,
        cause=cause_of(r), evidence=_evidence(r, probe), probes=[probe], note="",
    )
    session.add(incident)
    others = [p for p in probes if p != probe]
    if others:
        m.verify_probe = owner_of(m.id, others)
        m.verify_requested_at = now
    else:
        _confirm(m, incident, [probe], now)


def _verified(session: Session, m: Monitor, probe: str, r: ProbeResult, now: datetime) -> None:
    if m.verify_probe != probe:
        return
    incident = _open_incident(session, m.id)
    if incident is None or incident.confirmed_at is not None:
        m.verify_probe = m.verify_requested_at = None
        return
    if r.ok:
        first = incident.probes[0] if incident.probes else "?"
        incident.ended_at = r.at
        incident.note = f"seen down from {first} only; {probe} saw it up"
        m.fail_streak, m.first_fail_at = 0, None
        m.verify_probe = m.verify_requested_at = None
        return
    _confirm(m, incident, [*incident.probes, probe], now)


def _expire_verifications(session: Session, now: datetime, cfg: EngineConfig) -> None:
    # A verifying probe that never answers must not hold a real outage back.
    deadline = now - timedelta(seconds=cfg.verify_timeout_s)
    for m in session.scalars(
        select(Monitor).where(Monitor.verify_probe.is_not(None),
                              Monitor.verify_requested_at < deadline)
    ):
        incident = _open_incident(session, m.id)
        if incident is None:
            m.verify_probe = m.verify_requested_at = None
            continue
        incident.note = f"second probe {m.verify_probe} did not answer in time"
        _confirm(m, incident, list(incident.probes), now)


def cause_of(r: ProbeResult) -> str:
    """A few words on what failed, for the incident and the text message."""
    if r.error:
        return r.error[:120]
    if r.status is not None:
        return f"HTTP {r.status}"
    return "check failed"
