"""Findings of the monitors become messages to an app's maintainers, through the outbox.

Vulnerabilities: one message per scan listing what is new (email or chat; also SMS when a
finding is critical). Perf findings (deploy regressions, N+1 queries, slow queries): one
message per finding. Crashed processes: a message per crash episode. Every message has an
idempotency key, so a retried scan or a restart never sends it twice.
"""

from __future__ import annotations

import hashlib
import logging

from roost.context import Context
from roost.core import recipients
from roost.monitor.perf.flush import Finding as PerfFinding
from roost.monitor.vulns import Finding as VulnFinding
from roost.notify import MAIL_CHANNELS, enqueue

log = logging.getLogger("roost.alerts")


def notify_maintainers(ctx: Context, app: str, key: str, kind: str, subject: str, body: str,
                       channels: tuple[str, ...] = MAIL_CHANNELS) -> int:
    """Queue one message to every maintainer of ``app``; return the rows added."""
    added = 0
    with ctx.sessions.begin() as session:
        people = recipients.for_app(session, app)
        if not people:
            log.warning("%s: %s (no maintainers to tell)", app, subject)
        for person in people:
            added += enqueue(session, f"{key}:{person.key}", person, kind, subject, body,
                             channels)
    return added


def vuln_message(app: str, findings: list[VulnFinding]) -> tuple[str, str]:
    """Subject and body listing new vulnerable dependencies."""
    subject = f"[roost] {app}: {len(findings)} new vulnerable dependenc" \
              f"{'y' if len(findings) == 1 else 'ies'}"
    lines = [f"{f.package} {f.version} ({f.ecosystem}, {f.lockfile}): {f.id} "
             f"[{f.severity or 'unknown'}] {f.summary[:120]}"
             + (f" -> upgrade to {f.fixed}" if f.fixed else " -> no fix published yet")
             for f in findings]
    return subject, "\n".join(lines) + f"\n\nDetails: roost vulns {app}"


def on_vuln_findings(ctx: Context, app: str, findings: list[VulnFinding]) -> None:
    """Tell maintainers about new findings of one scan (SMS too when one is critical)."""
    subject, body = vuln_message(app, findings)
    digest = hashlib.sha256("|".join(sorted(f.id + f.package for f in findings)).encode())
    channels: tuple[str, ...] = MAIL_CHANNELS
    if any((f.severity or "").lower() == "critical" for f in findings):
        channels = (*MAIL_CHANNELS, "sms")
    notify_maintainers(ctx, app, f"vulns:{app}:{digest.hexdigest()[:16]}", "vulns", subject,
                       body, channels)


def on_perf_finding(ctx: Context, finding: PerfFinding) -> None:
    """Tell maintainers about a deploy regression, an N+1 or a slow query."""
    what = {"regression": "got slower", "n_plus_one": "repeats a query (N+1)",
            "slow_query": "runs a slow query"}.get(finding.kind, finding.kind)
    subject = f"[roost] {finding.app}: {finding.endpoint} {what}"
    body = f"{finding.summary}\n\nDetails: roost perf {finding.app} '{finding.endpoint}'"
    notify_maintainers(ctx, finding.app,
                       f"perf:{finding.app}:{finding.kind}:{finding.endpoint}:{finding.key}",
                       "perf", subject, body)


def on_crash(ctx: Context, app: str, dyno: str, last_lines: list[str]) -> None:
    """Tell maintainers that a process keeps crashing and was given up on."""
    subject = f"[roost] {app}: {dyno} keeps crashing"
    tail = "\n".join(last_lines[-10:]) or "(no output)"
    body = (f"{dyno} of {app} crashed repeatedly and is no longer restarted.\n"
            f"Last output:\n{tail}\n\nSee roost logs {app} --source {dyno}; "
            f"roost restart {app} tries again.")
    if last_lines and last_lines[0].startswith("R15 "):  # the runtime's memory event
        subject = f"[roost] {app}: {dyno} ran out of memory"
        body = f"{last_lines[0][4:]}\n\nLast output:\n{tail}"
    stamp = hashlib.sha256(tail.encode()).hexdigest()[:12]
    notify_maintainers(ctx, app, f"crash:{app}:{dyno}:{stamp}", "crash", subject, body)


def install(ctx: Context) -> None:
    """Connect the monitors' finding hooks to the outbox."""
    ctx.hook("vuln_findings", lambda app, found: on_vuln_findings(ctx, app, found))
    ctx.hook("perf_finding", lambda finding: on_perf_finding(ctx, finding))
