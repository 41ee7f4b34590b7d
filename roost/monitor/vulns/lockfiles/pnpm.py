"""pnpm's pnpm-lock.yaml: lockfile versions 5.x (``/name/1.0.0``), 6.x (``/name@1.0.0``) and
9.x (``name@1.0.0`` plus ``snapshots``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from roost.monitor.vulns.lockfiles.base import Dependency, dep, expect, load_yaml
from roost.monitor.vulns.lockfiles.npm import npm_dep
from roost.monitor.vulns.versions import NPM

_V5_KEY = re.compile(r"^/?(?P<name>(?:@[^/]+/)?[^/@]+)/(?P<version>[^/_]+)(?:_.*)?$")
_DEP_SECTIONS = ("dependencies", "optionalDependencies")


def _split_at(key: str) -> tuple[str, str] | None:
    key = key.lstrip("/").split("(", 1)[0]
    at = key.find("@", 1)
    return None if at < 0 else (key[:at], key[at + 1 :])


def _key_lines(text: str, section: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line and not line[0].isspace():
            inside = line.rstrip() == f"{section}:"
            continue
        if inside and line.startswith("  ") and not line[2:3].isspace():
            lines.setdefault(line.strip().rstrip(":").strip("'\""), number)
    return lines


def _ref_key(name: str, ref: Any) -> str | None:
    """The snapshot key a dependency reference points at (``1.0.0`` or an alias)."""
    ref = str(ref)
    if ref.startswith(("link:", "file:")):
        return None
    if "@" in ref.split("(", 1)[0][1:]:
        return ref  # an alias: "real-name@1.0.0"
    return f"{name}@{ref}"


def _reachable(roots: Iterable[str], snapshots: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        info = snapshots.get(key)
        if not isinstance(info, Mapping):
            continue
        for section in _DEP_SECTIONS:
            for name, ref in (info.get(section) or {}).items():
                target = _ref_key(str(name), ref)
                if target is not None:
                    todo.append(target)
    return {k.split("(", 1)[0] for k in seen}


def _dev_only_v9(data: Mapping[str, Any]) -> set[str]:
    """Package keys reachable from devDependencies only (pnpm 9 has no ``dev`` field)."""
    prod: list[str] = []
    dev: list[str] = []
    for importer in (data.get("importers") or {}).values():
        if not isinstance(importer, Mapping):
            continue
        for section, bucket in (*((s, prod) for s in _DEP_SECTIONS), ("devDependencies", dev)):
            for name, spec in (importer.get(section) or {}).items():
                ref = spec.get("version") if isinstance(spec, Mapping) else spec
                target = _ref_key(str(name), ref)
                if target is not None:
                    bucket.append(target)
    snapshots = data.get("snapshots") or {}
    return _reachable(dev, snapshots) - _reachable(prod, snapshots)


def parse_pnpm_lock(text: str, shown: str) -> list[Dependency]:
    """Every package of a pnpm-lock.yaml with its dev flag."""
    data = load_yaml(text, shown)
    raw_version = data.get("lockfileVersion")
    try:
        major = int(float(str(raw_version)))
    except ValueError:
        major = 0
    expect(5 <= major <= 9, shown, 1, f"unsupported lockfileVersion {raw_version!r}")
    packages = data.get("packages") or {}
    expect(isinstance(packages, Mapping), shown, None, '"packages" is not a mapping')
    lines = _key_lines(text, "packages")
    dev_only = _dev_only_v9(data) if major >= 9 else set()
    out: list[Dependency] = []
    for key, info in packages.items():
        key = str(key)
        line = lines.get(key)
        expect(isinstance(info, Mapping), shown, line, f"package {key!r} is not a mapping")
        if major < 6:
            m = _V5_KEY.match(key)
            parsed = (m.group("name"), m.group("version")) if m else None
        else:
            parsed = _split_at(key)
        dev = bool(info.get("dev")) if major < 9 else key.split("(", 1)[0] in dev_only
        if parsed is None or not isinstance(info.get("resolution", {}), Mapping) or (
            "tarball" in info.get("resolution", {}) or "type" in info.get("resolution", {})
        ):
            name = str(info.get("name") or (parsed[0] if parsed else key))
            version = str(info.get("version") or (parsed[1] if parsed else ""))
            out.append(dep(NPM, name, version, shown, dev=dev, line=line,
                           note=f"installed from {key[:60]!r}, not the registry"))
            continue
        out.append(npm_dep(parsed[0], parsed[1], shown, dev=dev, line=line))
    return out
