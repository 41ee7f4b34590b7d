"""Vulnerability scans at the platform's moments: after each build, after each database change.

New findings are handed to the ``vuln_findings`` hooks (the notifier), one call per app
and scan, so each maintainer gets one message listing what is new.
"""

from __future__ import annotations

import logging
from pathlib import Path

from roost.context import Context
from roost.core.deploys import DeployStage
from roost.monitor.vulns import (
    ImportResult,
    ScanReport,
    import_path,
    rescan_affected,
    update_from_sources,
)
from roost.monitor.vulns import scan as vscan
from roost.monitor.vulns.db import is_empty

log = logging.getLogger("roost.vulns")


def _announce(ctx: Context, report: ScanReport) -> None:
    if not report.new or report.app_name is None:
        return
    for hook in ctx.hooks.get("vuln_findings", []):
        hook(report.app_name, report.new)


def scan_after_build(stage: DeployStage) -> None:
    """Scan the lockfiles of a freshly built app (an after-activate deploy hook)."""
    ctx = stage.ctx
    if stage.build_dir is None:
        return
    with ctx.sessions.begin() as session:
        if is_empty(session):
            return
        lockfiles = [stage.build_dir / rel for rel in stage.lockfiles]
        report = vscan.scan_app(session, stage.app, lockfiles, root=stage.build_dir)
    if report.new:
        stage.emit({"type": "step", "step": "vulns",
                    "message": f"{len(report.new)} new vulnerable dependencies: "
                    f"`roost vulns {stage.app}`"})
    _announce(ctx, report)


def rescan(ctx: Context, result: ImportResult) -> dict[str, int]:
    """Re-scan the apps that depend on a changed package; return new findings per app."""
    with ctx.sessions.begin() as session:
        reports = rescan_affected(session, result.changed_keys)
    for report in reports.values():
        _announce(ctx, report)
    return {app: len(report.new) for app, report in reports.items()}


def import_and_rescan(ctx: Context, source: str | Path) -> tuple[ImportResult, dict[str, int]]:
    """Import advisories from a path or URL, then re-scan affected apps."""
    result = import_path(ctx.sessions, source)
    return result, rescan(ctx, result)


def update_and_rescan(ctx: Context) -> tuple[ImportResult, dict[str, int]]:
    """Re-import the configured sources, then re-scan affected apps."""
    result = update_from_sources(ctx.sessions, list(ctx.settings.advisory_sources))
    return result, rescan(ctx, result)


def install(ctx: Context) -> None:
    """Register the scan-after-build hook."""
    ctx.hook("after_activate", scan_after_build)
