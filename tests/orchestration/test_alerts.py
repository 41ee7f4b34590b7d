"""Findings of the monitors become outbox messages to the app's maintainers, once each."""

from __future__ import annotations

from roost.core import apps, maintainers
from roost.monitor.perf.flush import Finding as PerfFinding
from roost.monitor.vulns.findings import Finding as VulnFinding
from roost.notify import outbox
from roost.orchestration import alerts
from roost.orchestration.platform import Platform as Context


def _setup(ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        apps.create(s, "shop", "t")
        maintainers.add(s, "shop", "Ada", "ada@example.com", "+15551230002", [], "t")


def _rows(ctx: Context, prefix: str) -> list[tuple[str, str, str]]:
    with ctx.sessions.begin() as s:
        return [(m.channel, m.address, m.subject) for m in outbox.messages(s, prefix)]


def test_regression_reaches_maintainer_once(platform: Context) -> None:
    _setup(platform)
    finding = PerfFinding(app="shop", kind="regression", endpoint="GET /items/{id}", key="v7",
                          summary="p95 of GET /items/{id} went from 40 ms to 240 ms after v7")
    alerts.on_perf_finding(platform, finding)
    alerts.on_perf_finding(platform, finding)  # a repeat adds nothing
    rows = _rows(platform, "perf:shop")
    assert rows == [("email", "ada@example.com",
                     "[roost] shop: GET /items/{id} got slower")]


def test_critical_vulnerability_also_texts(platform: Context) -> None:
    _setup(platform)
    found = VulnFinding(ecosystem="PyPI", package="django", version="3.2.0",
                        lockfile="requirements.txt", ids=["CVE-2026-1", "GHSA-x"],
                        summary="SQL injection", severity="critical", score=9.8, fixed="3.2.25",
                        dev=False)
    alerts.on_vuln_findings(platform, "shop", [found])
    channels = sorted(c for c, _, _ in _rows(platform, "vulns:shop"))
    assert channels == ["email", "sms"]
    with platform.sessions.begin() as s:
        body = outbox.messages(s, "vulns:shop")[0].body
    assert "django 3.2.0" in body and "upgrade to 3.2.25" in body


def test_crash_notice(platform: Context) -> None:
    _setup(platform)
    alerts.on_crash(platform, "shop", "worker.1", ["Traceback", "KeyError: 'x'"])
    [(channel, _, subject)] = _rows(platform, "crash:shop")
    assert channel == "email" and "worker.1 keeps crashing" in subject
