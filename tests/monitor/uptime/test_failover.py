"""When a probe (a control-plane instance) dies, its monitors move to the live probes and
the overdue ones are checked within seconds, not at their next phase."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.uptime import engine, monitors
from roost.monitor.uptime.engine import EngineConfig
from roost.monitor.uptime.scheduler import CATCH_UP_S, ProbeRunner
from roost.store.base import utcnow
from roost.store.models.uptime import Monitor, Probe
from roost.store.session import transaction

CFG = EngineConfig(probe_dead_after_s=20.0)


class Idle:
    """A probe backend that is never called: only the runner's schedule is looked at."""

    async def claim(self):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")

    async def report(self, results):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")


def test_a_dead_probes_monitors_move_and_are_checked_at_once(
        factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        ids = [monitors.create(s, "shop", f"https://shop.example.com/{n}",
                               interval_s=3600).id for n in range(40)]
        engine.claim_checks(s, "alpha", cfg=CFG)
        engine.claim_checks(s, "beta", cfg=CFG)
        alphas = {m.id for m in engine.claim_checks(s, "alpha", cfg=CFG).monitors}
        assert alphas and alphas != set(ids)  # shared between the two
        # alpha checked its share an hour and a half ago, then died.
        long_ago = utcnow() - timedelta(seconds=5400)
        s.execute(update(Monitor).where(Monitor.id.in_(alphas)).values(last_check_at=long_ago))
        s.execute(update(Probe).where(Probe.name == "alpha").values(last_seen=long_ago))
        claim = engine.claim_checks(s, "beta", cfg=CFG)
    assert {m.id for m in claim.monitors} == set(ids)
    assert set(claim.overdue) == alphas

    runner = ProbeRunner("beta", Idle())
    before = time.monotonic()
    runner.apply(claim)
    due = {mid: at - before for at, mid, _ in runner.heap}
    for mid in alphas:
        assert due[mid] <= CATCH_UP_S + 1, (mid, due[mid])
    # The rest keep their phase within the hour (some of which are far away).
    assert max(due[mid] for mid in set(ids) - alphas) > CATCH_UP_S
    assert all(due[mid] <= 3600 + 1 for mid in ids)
