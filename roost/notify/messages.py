"""The texts of the messages Roost sends about apps: vulnerabilities, perf findings, crashes.

(Paging texts for outages, kept under 160 GSM-7 characters, live beside the paging policy.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class VulnFinding(Protocol):
    """What a vulnerability message needs of a finding (the monitor's Finding has it)."""

    @property
    def package(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def ecosystem(self) -> str: ...
    @property
    def lockfile(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def summary(self) -> str: ...
    @property
    def fixed(self) -> str | None: ...


class PerfFinding(Protocol):
    """What a perf message needs of a finding."""

    @property
    def app(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def summary(self) -> str: ...


def vulns(app: str, findings: Sequence[VulnFinding]) -> tuple[str, str]:
    """Subject and body listing new vulnerable dependencies."""
    subject = f"[roost] {app}: {len(findings)} new vulnerable dependenc" \
              f"{'y' if len(findings) == 1 else 'ies'}"
    lines = [f"{f.package} {f.version} ({f.ecosystem}, {f.lockfile}): {f.id} "
             f"[{f.severity or 'unknown'}] {f.summary[:120]}"
             + (f" -> upgrade to {f.fixed}" if f.fixed else " -> no fix published yet")
             for f in findings]
    return subject, "\n".join(lines) + f"\n\nDetails: roost vulns {app}"


def perf(finding: PerfFinding) -> tuple[str, str]:
    """Subject and body for a deploy regression, an N+1 or a slow query."""
    what = {"regression": "got slower", "n_plus_one": "repeats a query (N+1)",
            "slow_query": "runs a slow query"}.get(finding.kind, finding.kind)
    subject = f"[roost] {finding.app}: {finding.endpoint} {what}"
    body = f"{finding.summary}\n\nDetails: roost perf {finding.app} '{finding.endpoint}'"
    return subject, body


def crash(app: str, dyno: str, last_lines: list[str]) -> tuple[str, str]:
    """Subject and body for a process given up on after repeated crashes."""
    tail = "\n".join(last_lines[-10:]) or "(no output)"
    body = (f"{dyno} of {app} crashed repeatedly and is no longer restarted.\n"
            f"Last output:\n{tail}\n\nSee roost logs {app} --source {dyno}; "
            f"roost restart {app} tries again.")
    if last_lines and last_lines[0].startswith("R15 "):  # the runtime's memory event
        return f"[roost] {app}: {dyno} ran out of memory", f"{last_lines[0][4:]}\n\n" \
            f"Last output:\n{tail}"
    return f"[roost] {app}: {dyno} keeps crashing", body
