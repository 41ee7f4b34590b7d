"""Vulnerability alerts: an OSV advisory database matched against apps' lockfiles.

Service functions for the API and CLI layers:

- ``db``: ``import_path``, ``update_from_sources``, ``stats``
- ``scan``: ``scan_directory``, ``scan_app``, ``scan_app_directory``, ``rescan_affected``,
  ``app_report``
- ``ignores``: ``ignore``, ``unignore``, ``list_ignores``
- ``output``: ``table_rows``, ``to_json``, ``to_sarif``
"""

from __future__ import annotations

from roost.monitor.vulns.db import (
    DbStats,
    ImportResult,
    import_path,
    stats,
    update_from_sources,
)
from roost.monitor.vulns.findings import Finding, NotEvaluated
from roost.monitor.vulns.ignores import IgnoreRule, ignore, list_ignores, unignore
from roost.monitor.vulns.output import table_rows, to_json, to_sarif
from roost.monitor.vulns.scan import (
    ScanReport,
    app_report,
    rescan_affected,
    scan_app,
    scan_app_directory,
    scan_directory,
)

__all__ = [
    "DbStats", "Finding", "IgnoreRule", "ImportResult", "NotEvaluated", "ScanReport",
    "app_report", "ignore", "import_path", "list_ignores",
    "rescan_affected", "scan_app", "scan_app_directory", "scan_directory", "stats",
    "table_rows", "to_json", "to_sarif", "unignore", "update_from_sources",
]
