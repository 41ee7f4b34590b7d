"""Deploy markers and the before/after comparison that finds deploy regressions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import InvalidInput
from roost.monitor.perf import sketch as sk
from roost.monitor.perf.flush import Finding
from roost.store.base import utcnow
from roost.store.models.perf import MINUTE, PerfBucket, PerfDeploy, PerfFinding


@dataclass(frozen=True)
class RegressionRules:
    """When a slower p95 after a deploy counts as a regression."""

    min_before: int = 50
    min_after: int = 50
    min_increase_ms: float = 20.0
    min_ratio: float = 1.25
    baseline: timedelta = timedelta(hours=24)
    # After this long a deploy is settled: endpoints still short of traffic are skipped.
    settle: timedelta = timedelta(hours=24)


def record_deploy(session: Session, app: str, release: str, at: datetime | None = None) -> None:
    """Mark that ``release`` of ``app`` went live at ``at`` (now when omitted)."""
    if not release:
        raise InvalidInput("a deploy marker needs a release name")
    at = at or utcnow()
    row = session.scalars(select(PerfDeploy).where(PerfDeploy.app == app,
                                                   PerfDeploy.release == release)).first()
    if row is None:
        session.add(PerfDeploy(app=app, release=release, at=at, checked=False))
    else:
        row.at = at
        row.checked = False
    session.flush()


def deploys(session: Session, app: str, since: datetime) -> list[PerfDeploy]:
    """Deploy markers of ``app`` at or after ``since``, oldest first."""
    return list(session.scalars(select(PerfDeploy).where(
        PerfDeploy.app == app, PerfDeploy.at >= since).order_by(PerfDeploy.at)))


def _floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _sketches(session: Session, app: str, start: datetime, end: datetime) -> dict[str, sk.Sketch]:
    merged: dict[str, sk.Sketch] = defaultdict(sk.new_sketch)
    rows = session.execute(select(PerfBucket.endpoint, PerfBucket.sketch).where(
        PerfBucket.app == app, PerfBucket.period == MINUTE,
        PerfBucket.start >= start, PerfBucket.start < end))
    for endpoint, blob in rows:
        merged[endpoint].merge(sk.decode(blob))
    return merged


def check_deploy(session: Session, deploy: PerfDeploy, now: datetime,
                 rules: RegressionRules) -> list[Finding]:
    """Compare each endpoint's p95 after ``deploy`` with before; record new regressions."""
    previous = session.scalars(select(PerfDeploy).where(
        PerfDeploy.app == deploy.app, PerfDeploy.at < deploy.at)
        .order_by(PerfDeploy.at.desc())).first()
    following = session.scalars(select(PerfDeploy).where(
        PerfDeploy.app == deploy.app, PerfDeploy.at > deploy.at)
        .order_by(PerfDeploy.at)).first()
    # The deploy's own minute mixes old and new code, so both windows leave it out.
    deploy_minute = _floor_minute(deploy.at)
    before_start = deploy.at - rules.baseline
    if previous is not None and previous.at > before_start:
        before_start = _floor_minute(previous.at) + timedelta(minutes=1)
    after_end = min(now, following.at) if following is not None else now
    before = _sketches(session, deploy.app, before_start, deploy_minute)
    after = _sketches(session, deploy.app, deploy_minute + timedelta(minutes=1),
                      _floor_minute(after_end))
    reported = set(session.scalars(select(PerfFinding.endpoint).where(
        PerfFinding.app == deploy.app, PerfFinding.kind == "regression",
        PerfFinding.key == deploy.release)))
    found: list[Finding] = []
    for endpoint, later in after.items():
        earlier = before.get(endpoint)
        if endpoint in reported or earlier is None:
            continue
        if earlier.count < rules.min_before or later.count < rules.min_after:
            continue
        p95_before = sk.quantile(earlier, 0.95)
        p95_after = sk.quantile(later, 0.95)
        if p95_after - p95_before < rules.min_increase_ms:
            continue
        if p95_after < p95_before * rules.min_ratio:
            continue
        summary = (f"{deploy.app} {deploy.release} made {endpoint} slower: p95 "
                   f"{p95_before:.0f} ms → {p95_after:.0f} ms")
        detail = {"release": deploy.release, "p95_before_ms": round(p95_before, 2),
                  "p95_after_ms": round(p95_after, 2), "requests_before": int(earlier.count),
                  "requests_after": int(later.count), "deployed_at": deploy.at.isoformat()}
        session.add(PerfFinding(app=deploy.app, kind="regression", endpoint=endpoint,
                                key=deploy.release, summary=summary, detail=detail,
                                occurrences=1, first_seen=now, last_seen=now))
        found.append(Finding(deploy.app, "regression", endpoint, deploy.release, summary, detail))
    if following is not None or now - deploy.at >= rules.settle:
        deploy.checked = True
    session.flush()
    return found


def check_regressions(
    session: Session,
    now: datetime | None = None,
    rules: RegressionRules | None = None,
    notify: Callable[[Finding], None] | None = None,
) -> list[Finding]:
    """Check every unsettled deploy marker; return (and pass to ``notify``) new regressions."""
    now = now or utcnow()
    rules = rules or RegressionRules()
    found: list[Finding] = []
    for deploy in session.scalars(select(PerfDeploy).where(PerfDeploy.checked.is_(False))
                                  .order_by(PerfDeploy.at)).all():
        found.extend(check_deploy(session, deploy, now, rules))
    if notify is not None:
        for finding in found:
            notify(finding)
    return found
