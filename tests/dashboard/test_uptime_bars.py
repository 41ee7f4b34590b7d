"""The 90-day bars of the Uptime tab and the status page, summed per UTC day by the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from roost.api.dashboard.uptime_views import daily_bars
from roost.orchestration.platform import Platform
from roost.store.models.uptime import Monitor, UptimeHourly


def test_bars_sum_each_utc_day_on_either_store(platform: Platform) -> None:
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    with platform.sessions.begin() as session:
        session.execute(insert(Monitor), [
            {"app_name": "a", "kind": "http", "target": f"http://x/{i}", "headers": {},
             "expected_status": []} for i in range(2)])
        # Monitor 1: 48 hours up to now, one failed check on 9 March; monitor 2: nothing.
        session.execute(insert(UptimeHourly), [
            {"monitor_id": 1, "hour": now.replace(minute=0) - timedelta(hours=h), "checks": 10,
             "failures": 1 if h == 20 else 0, "latency_ms_sum": 0.0} for h in range(48)])
    with platform.sessions.begin() as session:
        bars = daily_bars(session, [1, 2], days=5, now=now)
    uptime, html = bars[1]
    assert uptime == f"{100 * 479 / 480:.2f}%"
    assert html.count('class="bar ') == 5
    assert 'title="2026-03-09: 99.58%"' in html and 'class="bar part"' in html
    assert 'title="2026-03-10: 100.00%"' in html and 'title="2026-03-06: no data"' in html
    assert bars[2][0] == "-" and bars[2][1].count("no data") == 5
