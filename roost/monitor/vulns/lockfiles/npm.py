"""npm's package-lock.json (and npm-shrinkwrap.json), lockfile versions 1, 2 and 3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roost.monitor.vulns.lockfiles.base import (
    Dependency,
    dep,
    expect,
    line_of,
    load_json,
    object_key_lines,
)
from roost.monitor.vulns.versions import NPM, parse_version


def split_alias(spec: str) -> tuple[str, str] | None:
    """``npm:real-name@1.2.3`` -> (``real-name``, ``1.2.3``); None if not an alias."""
    if not spec.startswith("npm:"):
        return None
    target = spec[4:]
    at = target.rfind("@")
    if at <= 0:
        return None
    return target[:at], target[at + 1 :]


def npm_dep(name: str, version: str, shown: str, *, dev: bool,
            line: int | None) -> Dependency:
    """A Dependency for an npm package, resolving aliases and flagging non-registry sources."""
    alias = split_alias(version)
    if alias is not None:
        name, version = alias
    if parse_version(NPM, version) is None:
        return dep(NPM, name, version, shown, dev=dev, line=line,
                   note=f"not a registry version: {version!r}")
    return dep(NPM, name, version, shown, dev=dev, line=line)


def _walk_v1(tree: Mapping[str, Any], shown: str, lines: dict[str, int],
             out: list[Dependency]) -> None:
    for name, info in tree.items():
        where = lines.get(name)
        expect(isinstance(info, Mapping), shown, where, f"dependency {name!r} is not an object")
        version = info.get("version")
        expect(isinstance(version, str), shown, where, f"dependency {name!r} has no version")
        out.append(npm_dep(name, version, shown, dev=bool(info.get("dev")), line=where))
        nested = info.get("dependencies")
        if nested:
            expect(isinstance(nested, Mapping), shown, where,
                   f"dependencies of {name!r} are not an object")
            _walk_v1(nested, shown, lines, out)


def _packages(packages: Mapping[str, Any], shown: str, lines: dict[str, int]
              ) -> list[Dependency]:
    out: list[Dependency] = []
    for path, info in packages.items():
        where = lines.get(path)
        expect(isinstance(info, Mapping), shown, where, f"entry {path!r} is not an object")
        # "" is the root project; paths outside node_modules are workspace members.
        if "node_modules/" not in path or info.get("link"):
            continue
        name = info.get("name") or path.rsplit("node_modules/", 1)[1]
        version = info.get("version")
        if not isinstance(version, str):
            # npm omits the version of bundled or extraneous entries it could not resolve.
            out.append(dep(NPM, str(name), "", shown, dev=bool(info.get("dev")), line=where,
                           note="no version recorded"))
            continue
        out.append(npm_dep(str(name), version, shown, dev=bool(info.get("dev")), line=where))
    return out


def parse_package_lock(text: str, shown: str) -> list[Dependency]:
    """Every installed package of a package-lock.json, with ``dev`` flags and aliases resolved."""
    data = load_json(text, shown)
    version = data.get("lockfileVersion")
    expect(version in (1, 2, 3), shown, line_of(text, '"lockfileVersion"') or 1,
           f"unsupported lockfileVersion {version!r}")
    packages = data.get("packages")
    if version != 1 and packages is not None:
        expect(isinstance(packages, Mapping), shown, line_of(text, '"packages"'),
               '"packages" is not an object')
        return _packages(packages, shown, object_key_lines(text))
    expect(version != 3, shown, 1, 'lockfileVersion 3 without "packages"')
    tree = data.get("dependencies") or {}
    expect(isinstance(tree, Mapping), shown, line_of(text, '"dependencies"'),
           '"dependencies" is not an object')
    out: list[Dependency] = []
    _walk_v1(tree, shown, object_key_lines(text), out)
    return out
