"""Findings of the monitors become messages to an app's maintainers, through the outbox.

Vulnerabilities: one message per scan listing what is new (email or chat; also SMS when a
finding is critical). Perf findings (deploy regressions, N+1 queries, slow queries): one
message per finding. Crashed processes: a message per crash episode. Every message has an
idempotency key, so a retried scan or a restart never sends it twice.
"""

from __future__ import annotations

import hashlib
import logging

from roost.monitor.perf.flush import Finding as PerfFinding
from roost.monitor.vulns import Finding as VulnFinding
from roost.notify import MAIL_CHANNELS, enqueue, messages
from roost.orchestration import recipients
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.alerts")


def notify_maintainers(ctx: Platform, app: str, key: str, kind: str, subject: str, body: str,
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


def on_vuln_findings(ctx: Platform, app: str, findings: list[VulnFinding]) -> None:
    """Tell maintainers about new findings of one scan (SMS too when one is critical)."""
    subject, body = messages.vulns(app, findings)
    digest = hashlib.sha256("|".join(sorted(f.id + f.package for f in findings)).encode())
    channels: tuple[str, ...] = MAIL_CHANNELS
    if any((f.severity or "").lower() == "critical" for f in findings):
        channels = (*MAIL_CHANNELS, "sms")
    notify_maintainers(ctx, app, f"vulns:{app}:{digest.hexdigest()[:16]}", "vulns", subject,
                       body, channels)


def on_perf_finding(ctx: Platform, finding: PerfFinding) -> None:
    """Tell maintainers about a deploy regression, an N+1 or a slow query."""
    subject, body = messages.perf(finding)
    notify_maintainers(ctx, finding.app,
                       f"perf:{finding.app}:{finding.kind}:{finding.endpoint}:{finding.key}",
                       "perf", subject, body)


def on_crash(ctx: Platform, app: str, dyno: str, last_lines: list[str]) -> None:
    """Tell maintainers that a process keeps crashing and was given up on."""
    subject, body = messages.crash(app, dyno, last_lines)
    stamp = hashlib.sha256("\n".join(last_lines[-10:]).encode()).hexdigest()[:12]
    notify_maintainers(ctx, app, f"crash:{app}:{dyno}:{stamp}", "crash", subject, body)
