"""Monitor service functions, uptime figures and the engine's state machine, on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import Conflict, InvalidInput, NotFound
from roost.monitor.uptime import engine, flapping, incidents, monitors, stats
from roost.monitor.uptime.scheduler import phase
from roost.monitor.uptime.service import liveness
from roost.monitor.uptime.specs import ProbeResult
from roost.notify.paging import PagingPolicy, in_maintenance, run_paging
from roost.notify.recipients import Recipient
from roost.store.base import utcnow
from roost.store.session import transaction

URL = "https://shop.example.com/health"


@pytest.mark.parametrize(("kw", "message"), [
    ({"target": "ftp://x"}, "http:// or https://"),
    ({"target": URL, "interval_s": 5}, "at least 10 s"),
    ({"target": URL, "timeout_s": 40}, "at most the interval"),
    ({"target": URL, "kind": "icmp"}, "unknown monitor kind"),
    ({"target": URL, "method": "FETCH"}, "unknown HTTP method"),
    ({"target": URL, "expected_status": "200-700"}, "within 100-599"),
    ({"target": URL, "expected_status": "ok"}, "bad status code"),
    ({"target": URL, "body_regex": "("}, "does not compile"),
    ({"target": URL, "confirm_failures": 0}, "between 1 and 10"),
    ({"target": URL, "headers": {"X": "a\nb"}}, "line breaks"),
    ({"target": "db.example.com", "kind": "tcp"}, "HOST:PORT"),
    ({"target": URL, "name": "x" * 101}, "at most 100 characters"),
    ({"target": URL, "name": "Shop\nDOWN"}, "one line"),
])
def test_create_refuses_bad_settings(
    factory: sessionmaker[Session], kw: dict[str, object], message: str,
) -> None:
    kw = dict(kw)
    target = str(kw.pop("target"))
    with pytest.raises(InvalidInput, match=message), transaction(factory) as s:
        monitors.create(s, "shop", target, **kw)  # type: ignore[arg-type]


def test_create_list_pause_resume_remove(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        m = monitors.create(s, "shop", URL, expected_status="200-204,301")
        t = monitors.create(s, "shop", "https://shop.example.com", kind="tls", interval_s=3600)
        monitors.create(s, "blog", "db.example.com:5432", kind="tcp")
    assert m.interval_s == 30 and m.confirm_failures == 2 and m.timeout_s == 10
    assert m.expected_status == [200, 201, 202, 203, 204, 301]
    assert t.target == "shop.example.com:443"
    with transaction(factory) as s:
        assert [x.id for x in monitors.list_monitors(s, "shop")] == [m.id, t.id]
        assert monitors.pause(s, m.id).paused
        assert engine.claim_checks(s, "local").monitors[0].id != m.id
        assert not monitors.resume(s, m.id).paused
        monitors.remove(s, t.id)
        assert len(monitors.list_monitors(s)) == 2
    with pytest.raises(NotFound, match="no monitor"), transaction(factory) as s:
        monitors.get(s, t.id)


def _result(mid: int, ok: bool, at_s: float, status: int | None = None,
            base: datetime | None = None) -> ProbeResult:
    return ProbeResult(monitor_id=mid, at=(base or utcnow()) + timedelta(seconds=at_s), ok=ok,
                       status=status or (200 if ok else 500), latency_ms=12.0,
                       error=None if ok else "HTTP 500")


def test_state_machine_uptime_and_info(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        mid = monitors.create(s, "shop", URL).id
    outcomes = [True, True, False, True, False, False, False, True, True, True]
    # The ten checks end before now and fall on one UTC day, also when run around midnight.
    base = utcnow() - timedelta(seconds=20)
    if (base + timedelta(seconds=10)).date() != base.date():
        base = (base + timedelta(seconds=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    for n, ok in enumerate(outcomes):
        with transaction(factory) as s:
            engine.report_results(s, "local", [_result(mid, ok, n, base=base)])
    with transaction(factory) as s:
        info = monitors.info(s, mid, checks=3)
        [inc] = incidents.list_incidents(s, "shop")
    assert info.monitor.state == "up"
    assert info.uptime["24h"] == info.uptime["90d"] == 60.0
    assert [c.ok for c in info.last_checks] == [True, True, True]
    assert inc.confirmed_at is not None and inc.ended_at is not None and inc.cause == "HTTP 500"
    assert inc.probes == ["local"] and inc.evidence["status"] == 500
    with transaction(factory) as s:
        bars = stats.daily_bars(s, mid, days=90, now=base + timedelta(seconds=10))
        assert len(bars) == 90 and bars[-1].checks == 10 and bars[0].uptime is None
        assert stats.prune(s, timedelta(seconds=0), now=utcnow() + timedelta(minutes=1)) == 10
        assert monitors.info(s, mid).uptime["24h"] == 60.0  # rollups outlive raw rows


def test_paging_pass_is_idempotent_and_ack_conflicts(factory: sessionmaker[Session]) -> None:
    ada = Recipient("m:1", "Ada", phone="+15550100001")
    with transaction(factory) as s:
        mid = monitors.create(s, "shop", URL).id
        engine.report_results(s, "local", [_result(mid, False, 0), _result(mid, False, 1)])
    policy = PagingPolicy(merge_delay_s=0)
    with transaction(factory) as s:
        assert run_paging(s, lambda app: [ada], lambda: [], policy).pages == 1
    with transaction(factory) as s:
        assert run_paging(s, lambda app: [ada], lambda: [], policy).pages == 0
        [inc] = incidents.list_incidents(s, open_only=True)
        incidents.ack(s, inc.id, "ada")
    with pytest.raises(Conflict, match="acknowledged by ada"), transaction(factory) as s:
        incidents.ack(s, inc.id, "bob")
    with transaction(factory) as s:
        live = liveness(s)
    assert live.outbox_pending == 1 and live.monitors == 1 and "local" in live.probes


def test_maintenance_validation(factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with pytest.raises(InvalidInput, match="either --end or --duration"), \
            transaction(factory) as s:
        incidents.add_maintenance(s, "shop", start=now)
    with pytest.raises(InvalidInput, match="after --start"), transaction(factory) as s:
        incidents.add_maintenance(s, "shop", start=now, end=now - timedelta(hours=1))
    with transaction(factory) as s:
        w = incidents.add_maintenance(s, "shop", start=now + timedelta(hours=1),
                                      duration_s=3600)
        assert not in_maintenance(s, "shop")
        assert in_maintenance(s, "shop", now + timedelta(minutes=90))
        assert [x.id for x in incidents.list_maintenance(s, "shop")] == [w.id]


def test_flap_percent_and_owner_hashing() -> None:
    assert flapping.change_percent("u" * 21) == 0.0
    assert flapping.change_percent("ud" * 10 + "u") == pytest.approx(100.0)
    assert flapping.change_percent("uuuuddduu") < flapping.LOW  # one outage is not flapping
    owners = {engine.owner_of(n, ["a", "b", "local"]) for n in range(60)}
    assert owners == {"a", "b", "local"}
    assert engine.owner_of(7, ["a", "b"]) == engine.owner_of(7, ["b", "a"])
    assert phase(5, 60) == phase(5, 60) and 0 <= phase(5, 60) < 60
