"""Renderings of a scan report: table rows, JSON and SARIF 2.1.0."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from roost.monitor.vulns.cvss import level_rank
from roost.monitor.vulns.findings import Finding
from roost.monitor.vulns.scan import ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TABLE_COLUMNS = ("severity", "package", "version", "fixed", "id", "aliases", "lockfile", "dev")
_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_DEFAULT_SCORE = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0}


def _order(f: Finding) -> tuple[int, str, str]:
    return (-level_rank(f.severity), f.package, f.id)


def table_rows(report: ScanReport, *, include_ignored: bool = False) -> list[dict[str, str]]:
    """One row per finding, worst first, with the columns of ``TABLE_COLUMNS``."""
    chosen = report.findings if include_ignored else report.active
    return [
        {
            "severity": f.severity or "unknown",
            "package": f.package,
            "version": f.version,
            "fixed": f.fixed or "-",
            "id": f.id,
            "aliases": ", ".join(i for i in f.ids if i != f.id),
            "lockfile": f.lockfile,
            "dev": "dev" if f.dev else "",
        }
        for f in sorted(chosen, key=_order)
    ]


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id, "ids": f.ids, "ecosystem": f.ecosystem, "package": f.package,
        "version": f.version, "fixed": f.fixed, "severity": f.severity, "score": f.score,
        "summary": f.summary, "lockfile": f.lockfile, "line": f.line, "dev": f.dev,
        "locations": [asdict(loc) for loc in f.locations],
        "first_seen": f.first_seen.isoformat() if f.first_seen else None,
        "new": f.new, "ignored": f.ignored,
    }


def to_json(report: ScanReport) -> dict[str, Any]:
    """The report as a JSON-ready dict (``--json``)."""
    return {
        "app": report.app_name,
        "lockfiles": report.lockfiles,
        "dependencies": report.dependencies,
        "findings": [_finding_json(f) for f in sorted(report.active, key=_order)],
        "ignored": [_finding_json(f) for f in sorted(report.findings, key=_order) if f.ignored],
        "not_evaluated": [asdict(n) for n in report.not_evaluated],
    }


def _rule(f: Finding) -> dict[str, Any]:
    score = f.score if f.score is not None else _DEFAULT_SCORE.get(f.severity or "")
    rule: dict[str, Any] = {
        "id": f.id,
        "name": f.id.replace("-", ""),
        "shortDescription": {"text": f.summary or f.id},
        "helpUri": f"https://osv.dev/vulnerability/{f.id}",
        "defaultConfiguration": {"level": _SARIF_LEVEL.get(f.severity or "", "warning")},
        "properties": {"tags": ["security", "vulnerability", f.ecosystem]},
    }
    if score is not None:
        # GitHub code scanning ranks security results by this property.
        rule["properties"]["security-severity"] = f"{score:.1f}"
    return rule


def to_sarif(report: ScanReport, tool_version: str = "0.1.0") -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log with one rule per advisory and one result per location."""
    findings = sorted(report.active, key=_order)
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        rules.setdefault(f.id, _rule(f))
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for f in findings:
        fix = f"; fixed in {f.fixed}" if f.fixed else "; no fixed version published"
        for loc in f.locations or []:
            region = {"startLine": loc.line} if loc.line else None
            physical: dict[str, Any] = {"artifactLocation": {"uri": loc.lockfile}}
            if region:
                physical["region"] = region
            results.append({
                "ruleId": f.id,
                "ruleIndex": index[f.id],
                "level": _SARIF_LEVEL.get(f.severity or "", "warning"),
                "message": {"text": f"{f.package} {loc.version} is affected by "
                                    f"{', '.join(f.ids)}{fix}"},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {
                    "roostFinding/v1": f"{f.ecosystem}/{f.package}/{loc.version}/{f.id}"
                },
            })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "roost-vulns",
                "version": tool_version,
                "informationUri": "https://osv.dev",
                "rules": list(rules.values()),
            }},
            "results": results,
        }],
    }
