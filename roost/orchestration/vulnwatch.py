"""Vulnerability scans at the platform's moments: after each build, after each database change.

New findings go to the app's maintainers (:mod:`roost.orchestration.alerts`), one message per
app and scan, so each maintainer gets one message listing what is new.
"""

from __future__ import annotations

import logging
from pathlib import Path

from roost.monitor.vulns import (
    ImportResult,
    ScanReport,
    import_path,
    rescan_affected,
    update_from_sources,
)
from roost.monitor.vulns import scan as vscan
from roost.monitor.vulns.db import is_empty
from roost.orchestration import alerts
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.vulns")


def has_advisories(platform: Platform) -> bool:
    """Whether the advisory database has anything to match against."""
    with platform.sessions.begin() as session:
        return not is_empty(session)


def scan_build(platform: Platform, app: str, build_dir: Path) -> ScanReport:
    """Scan every lockfile of a freshly built app (the same discovery as `roost vulns scan`)."""
    with platform.sessions.begin() as session:
        return vscan.scan_app_directory(session, app, build_dir)


def _announce(platform: Platform, report: ScanReport) -> None:
    if report.new and report.app_name is not None:
        alerts.on_vuln_findings(platform, report.app_name, report.new)


def rescan(platform: Platform, result: ImportResult) -> dict[str, int]:
    """Re-scan the apps that depend on a changed package; return new findings per app."""
    with platform.sessions.begin() as session:
        reports = rescan_affected(session, result.changed_keys)
    for report in reports.values():
        _announce(platform, report)
    return {app: len(report.new) for app, report in reports.items()}


def import_and_rescan(platform: Platform, source: str | Path
                      ) -> tuple[ImportResult, dict[str, int]]:
    """Import advisories from a path or URL, then re-scan affected apps."""
    result = import_path(platform.sessions, source)
    return result, rescan(platform, result)


def update_and_rescan(platform: Platform) -> tuple[ImportResult, dict[str, int]]:
    """Re-import the configured sources, then re-scan affected apps."""
    result = update_from_sources(platform.sessions, list(platform.settings.advisory_sources))
    return result, rescan(platform, result)
