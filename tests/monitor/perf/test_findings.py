"""Findings: N+1 on real agent traces, deploy regressions, slow queries."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
from sqlalchemy import Engine

from roost.agent import Agent, WSGIMiddleware, wrap_connection
from roost.monitor.perf.query import endpoint_table, findings
from roost.monitor.perf.regress import RegressionRules, check_regressions, record_deploy
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.perf.helpers import APP, KEY, live_receiver, request_body, requests_at

PB = {"content-type": "application/x-protobuf", "x-roost-ingest-key": KEY}


def _app(db: Any) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        cur = db.cursor()
        if path.startswith("/authors"):
            cur.execute("SELECT id FROM authors")
            for (author_id,) in cur.fetchall():
                db.cursor().execute("SELECT pause(8), title FROM books WHERE author = ?",
                                    (author_id,))
        else:
            cur.execute("SELECT title FROM books WHERE id IN (SELECT book FROM picks)")
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    return app


def _call(app: Any, path: str) -> None:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    app(environ, lambda status, headers, exc_info=None: None)


def test_n_plus_one_found_in_real_agent_traces(engine: Engine) -> None:
    raw = sqlite3.connect(":memory:", check_same_thread=False)
    raw.create_function("pause", 1, lambda ms: time.sleep(ms / 1000) or 0)
    raw.executescript("CREATE TABLE authors (id INTEGER); CREATE TABLE books (id INTEGER, "
                      "author INTEGER, title TEXT); CREATE TABLE picks (book INTEGER);"
                      "INSERT INTO authors VALUES (1),(2),(3),(4),(5),(6),(7);"
                      "INSERT INTO books SELECT id, id, 'title' FROM authors;")
    with live_receiver(engine) as live:
        agent = Agent(endpoint=live.url, headers={"x-roost-ingest-key": KEY},
                      service_name="shop", interval=0.05)
        app = WSGIMiddleware(_app(wrap_connection(raw, "sqlite")), agent)
        for i in range(3):
            _call(app, f"/authors/{i + 10}")
            _call(app, "/home")
        assert agent.flush(10)
        assert agent.exported == 6 and agent.dropped == 0
        live.service.flush()
    [n1] = live.notified
    assert n1.kind == "n_plus_one" and n1.endpoint == "GET /authors/:id"
    assert "books WHERE author = ?" in n1.summary
    with transaction(make_sessionmaker(engine)) as s:
        since = datetime.now(UTC) - timedelta(hours=1)
        table = {e.endpoint: e for e in endpoint_table(s, APP, since)}
        assert table["GET /authors/:id"].n_plus_one
        assert not table["GET /home"].n_plus_one
        [stored] = findings(s, APP)
        assert stored.occurrences == 3 and stored.detail["repeats"] == 7


def test_deploy_then_slower_endpoint_gives_exactly_one_regression(engine: Engine) -> None:
    now = time.time()
    deployed = datetime.fromtimestamp(now - 15 * 60, UTC)
    rules = RegressionRules(min_before=40, min_after=40)
    with live_receiver(engine, rules=rules) as live:
        before_start = now - 30 * 60
        after_start = now - 13 * 60
        batches = [
            requests_at("/fast", before_start, [10.0 + i % 5 for i in range(120)]),
            requests_at("/steady", before_start, [30.0 + i % 7 for i in range(120)]),
            requests_at("/fast", after_start, [60.0 + i % 5 for i in range(120)]),
            requests_at("/steady", after_start, [31.0 + i % 7 for i in range(120)]),
        ]
        for spans in batches:
            assert httpx.post(live.traces_url, content=request_body(spans), headers=PB
                              ).status_code == 200
        with transaction(make_sessionmaker(engine)) as s:
            record_deploy(s, APP, "v7", deployed)
        live.service.flush(datetime.now(UTC))
        live.service.flush(datetime.now(UTC))  # a second check must not repeat it
    regressions = [f for f in live.notified if f.kind == "regression"]
    assert len(regressions) == 1
    [r] = regressions
    assert r.endpoint == "GET /fast" and r.key == "v7" and "v7" in r.summary
    assert r.detail["p95_after_ms"] > r.detail["p95_before_ms"] * 4
    with transaction(make_sessionmaker(engine)) as s:
        assert check_regressions(s, datetime.now(UTC), rules) == []
        since = datetime.now(UTC) - timedelta(hours=1)
        table = {e.endpoint: e for e in endpoint_table(s, APP, since)}
        assert table["GET /fast"].regressed_in == "v7"
        assert table["GET /steady"].regressed_in is None


def test_too_little_traffic_is_not_a_regression(engine: Engine) -> None:
    now = time.time()
    with live_receiver(engine) as live:
        for spans in (requests_at("/rare", now - 1800, [10.0] * 10),
                      requests_at("/rare", now - 600, [90.0] * 10)):
            httpx.post(live.traces_url, content=request_body(spans), headers=PB)
        with transaction(make_sessionmaker(engine)) as s:
            record_deploy(s, APP, "v2", datetime.fromtimestamp(now - 900, UTC))
        assert live.service.flush(datetime.now(UTC)) == []


def test_slow_query_finding(engine: Engine) -> None:
    from tests.monitor.perf.helpers import db_span, ids, server_span

    trace_id, root = ids()
    start = int((time.time() - 10) * 1e9)
    spans = [server_span(trace_id, root, start, 900, "/report"),
             db_span(trace_id, root, start, 700, "SELECT sum(x) FROM big WHERE day > '2024-01-01'")]
    with live_receiver(engine) as live:
        httpx.post(live.traces_url, content=request_body(spans), headers=PB)
        live.service.flush()
    [slow] = live.notified
    assert slow.kind == "slow_query" and "day > ?" in slow.summary
