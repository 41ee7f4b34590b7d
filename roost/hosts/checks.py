"""The rules that turn a host's facts into alerts (no I/O: the caller records and sends).

A condition is remembered with the time it was first seen, so "for over 7 days" survives
restarts, and an alert is keyed by that time: one alert per episode, a new one if the
condition clears and comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DISK_PERCENT = 90.0
UNREACHABLE_CHECKS = 2
REBOOT_AFTER = timedelta(days=7)
SECURITY_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class HostAlert:
    """One alert about a host: its kind, when the condition began, and what to say."""

    kind: str  # disk | unreachable | reboot | security
    since: str
    subject: str
    body: str

    @property
    def urgent(self) -> bool:
        """Unreachable hosts page (SMS); the rest go by email."""
        return self.kind == "unreachable"


def _present(facts: dict[str, Any] | None, reachable: bool, failed_checks: int
             ) -> dict[str, str]:
    """The conditions present now, each with a detail line."""
    now: dict[str, str] = {}
    if not reachable:
        if failed_checks >= UNREACHABLE_CHECKS:
            now["unreachable"] = f"unreachable over SSH for {failed_checks} checks in a row"
        return now
    facts = facts or {}
    full = [d for d in facts.get("disks", []) if float(d.get("percent", 0)) > DISK_PERCENT]
    if full:
        now["disk"] = ", ".join(f"{d['mount']} {d['percent']:.0f}% full" for d in full)
    if facts.get("reboot_required"):
        now["reboot"] = "needs a reboot"
    pending = facts.get("security_updates") or []
    if pending:
        now["security"] = f"{len(pending)} security updates pending: " + \
            ", ".join(pending[:10]) + (" …" if len(pending) > 10 else "")
    return now


def evaluate(name: str, conditions: dict[str, str], facts: dict[str, Any] | None,
             reachable: bool, failed_checks: int, last_error: str, now: datetime
             ) -> tuple[dict[str, str], list[HostAlert]]:
    """The conditions to remember after this check, and the alerts due now."""
    present = _present(facts, reachable, failed_checks)
    kept = dict(conditions)
    if not reachable:  # an unreachable host's other conditions are unknown: keep them
        kept = {k: v for k, v in kept.items() if k != "unreachable" or k in present}
    else:
        kept = {k: v for k, v in kept.items() if k in present}
    for kind in present:
        kept.setdefault(kind, now.isoformat())
    alerts = []
    for kind, detail in present.items():
        since = datetime.fromisoformat(kept[kind])
        due = {"reboot": REBOOT_AFTER, "security": SECURITY_AFTER}.get(kind, timedelta(0))
        if now - since < due:
            continue
        why = f"{detail} (since {since:%Y-%m-%d %H:%M} UTC)" if due else detail
        if kind == "unreachable" and last_error:
            why += f": {last_error}"
        alerts.append(HostAlert(kind=kind, since=kept[kind],
                                subject=f"[roost] host {name}: {SUBJECTS[kind]}",
                                body=f"Host {name}: {why}.\n{ADVICE[kind]}"))
    return kept, alerts


SUBJECTS = {"disk": "disk over 90% full", "unreachable": "unreachable over SSH",
            "reboot": "reboot pending for over 7 days",
            "security": "security updates pending for over 3 days"}
ADVICE = {
    "disk": "Free space or grow the disk; `roost hosts info NAME --refresh` shows each disk.",
    "unreachable": "Check the machine and its network; `roost hosts info NAME --refresh` "
                   "tries again.",
    "reboot": "Reboot it in a quiet hour (its apps restart with it).",
    "security": "Check unattended-upgrades on it, or apply the `base` recipe: "
                "`roost hosts apply NAME`.",
}
