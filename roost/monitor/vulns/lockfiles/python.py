"""Python lockfiles: poetry.lock, Pipfile.lock and uv.lock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from roost.monitor.vulns.lockfiles.base import (
    Dependency,
    dep,
    expect,
    line_of,
    load_json,
    load_toml,
    object_key_lines,
)
from roost.monitor.vulns.versions import PYPI, normalise_name


def _package_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() == "[[package]]"]


def parse_poetry_lock(text: str, shown: str) -> list[Dependency]:
    """Every ``[[package]]`` of a poetry.lock; ``category = "dev"`` marks dev-only packages."""
    data = load_toml(text, shown)
    packages = data.get("package")
    expect(isinstance(packages, list), shown, 1, "no [[package]] tables")
    assert isinstance(packages, list)
    lines = _package_lines(text)
    out: list[Dependency] = []
    for i, pkg in enumerate(packages):
        line = lines[i] if i < len(lines) else None
        expect(isinstance(pkg, Mapping) and pkg.get("name") and pkg.get("version"), shown, line,
               "package without name or version")
        source = pkg.get("source") or {}
        kind = source.get("type") if isinstance(source, Mapping) else None
        note = f"installed from a {kind} source" if kind in ("git", "directory", "file", "url") \
            else ""
        out.append(dep(PYPI, str(pkg["name"]), str(pkg["version"]), shown, line=line, note=note,
                       dev=pkg.get("category") == "dev"))
    return out


def parse_pipfile_lock(text: str, shown: str) -> list[Dependency]:
    """Packages of a Pipfile.lock; those only in ``develop`` are dev-only."""
    data = load_json(text, shown)
    expect(isinstance(data.get("_meta"), Mapping), shown, 1, "no _meta block: not a Pipfile.lock")
    default = data.get("default") or {}
    develop = data.get("develop") or {}
    expect(isinstance(default, Mapping) and isinstance(develop, Mapping), shown,
           line_of(text, '"default"'), "default/develop are not objects")
    prod_names = {normalise_name(PYPI, n) for n in default}
    lines = object_key_lines(text)
    out: list[Dependency] = []
    for section, entries in (("default", default), ("develop", develop)):
        for name, info in entries.items():
            line = lines.get(name)
            expect(isinstance(info, Mapping), shown, line, f"entry {name!r} is not an object")
            dev = section == "develop" and normalise_name(PYPI, name) not in prod_names
            if section == "develop" and not dev:
                continue  # listed in default already
            version = info.get("version")
            if isinstance(version, str) and version.startswith("==") and "*" not in version:
                out.append(dep(PYPI, name, version[2:], shown, dev=dev, line=line))
            else:
                where = next((k for k in ("git", "path", "file", "editable") if k in info), "")
                out.append(dep(PYPI, name, str(version or info.get(where, "")), shown, dev=dev,
                               line=line, note=f"not pinned with == ({where or 'no version'})"))
    return out


def _dep_names(entries: Iterable[Any]) -> list[str]:
    return [normalise_name(PYPI, str(e["name"])) for e in entries
            if isinstance(e, Mapping) and e.get("name")]


def _closure(roots: Iterable[str], graph: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def parse_uv_lock(text: str, shown: str) -> list[Dependency]:
    """Packages of a uv.lock; those reachable only from dev dependency groups are dev-only."""
    data = load_toml(text, shown)
    expect(isinstance(data.get("version"), int), shown, 1, "no lock version: not a uv.lock")
    packages = data.get("package") or []
    expect(isinstance(packages, list), shown, 1, "package is not an array of tables")
    lines = _package_lines(text)
    graph: dict[str, list[str]] = {}
    prod_roots: list[str] = []
    dev_roots: list[str] = []
    members: set[str] = set()
    for i, pkg in enumerate(packages):
        expect(isinstance(pkg, Mapping) and pkg.get("name"), shown,
               lines[i] if i < len(lines) else None, "package without a name")
        name = normalise_name(PYPI, str(pkg["name"]))
        deps = _dep_names(pkg.get("dependencies") or [])
        for extra in (pkg.get("optional-dependencies") or {}).values():
            deps += _dep_names(extra)
        graph.setdefault(name, []).extend(deps)
        source = pkg.get("source") or {}
        if "editable" in source or "virtual" in source:
            members.add(name)
            prod_roots.extend(deps)
            for group in (pkg.get("dev-dependencies") or {}).values():
                dev_roots.extend(_dep_names(group))
    dev_only = _closure(dev_roots, graph) - _closure(prod_roots, graph) - members
    out: list[Dependency] = []
    for i, pkg in enumerate(packages):
        name = normalise_name(PYPI, str(pkg["name"]))
        if name in members:
            continue
        line = lines[i] if i < len(lines) else None
        source = pkg.get("source") or {}
        version = str(pkg.get("version", ""))
        kind = next((k for k in ("git", "path", "directory", "url") if k in source), "")
        note = f"installed from a {kind} source" if kind else ("" if version else "no version")
        out.append(dep(PYPI, name, version, shown, dev=name in dev_only, line=line, note=note))
    return out
