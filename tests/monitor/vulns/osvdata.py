"""Small builders of OSV records for the store tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any


def record(id_: str, ecosystem: str, name: str, events: list[dict[str, str]], *,
           aliases: tuple[str, ...] = (), modified: str = "2024-01-01T00:00:00Z",
           withdrawn: str | None = None, vector: str | None = None,
           level: str | None = None, summary: str = "") -> dict[str, Any]:
    """An OSV record with one affected package and one ECOSYSTEM range."""
    rec: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": id_,
        "modified": modified,
        "published": "2023-06-01T00:00:00Z",
        "aliases": list(aliases),
        "summary": summary or f"flaw {id_} in {name}",
        "affected": [{"package": {"ecosystem": ecosystem, "name": name,
                                  "purl": f"pkg:{ecosystem.lower()}/{name}"},
                      "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
    }
    if withdrawn:
        rec["withdrawn"] = withdrawn
    if vector:
        rec["severity"] = [{"type": "CVSS_V3", "score": vector}]
    if level:
        rec["database_specific"] = {"severity": level}
    return rec


def write_dir(directory: Path, records: list[dict[str, Any]]) -> Path:
    """Write one JSON file per record, as OSV's per-ecosystem exports hold them."""
    directory.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (directory / f"{rec['id']}.json").write_text(json.dumps(rec, indent=2))
    return directory


def write_zip(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write an ``all.zip`` with one ``<ID>.json`` member per record."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for rec in records:
            archive.writestr(f"{rec['id']}.json", json.dumps(rec))
    return path
