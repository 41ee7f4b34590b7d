"""An app's own recipes: read from its slug, applied by pyinfra inside the build sandbox.

A VM app may carry pyinfra deploy files in ``recipes/`` at the top of its source (kept in
its slug). Every ``*.py`` directly in that folder whose name starts with neither ``_`` nor
``.`` runs, in name order (``00-packages.py`` before ``default.py``); the rest of the
folder (templates, files, helper modules) is there beside them, and recipes start in it,
so ``files.put(src="files/app.conf")`` works as with pyinfra's own command line.

The recipes are the app's code and as hostile as the app. The worker that runs them
(:mod:`roost.hosts.worker`) starts in the build sandbox (:mod:`roost.runtime.sandbox`) as
the app's build user: it sees its job directory read-write (the recipes, the private key
of the app's own host and that host's pinned key, nothing else), Roost's code and its
interpreter read-only, and nothing of ``ROOST_HOME``; its environment is built from
nothing. What it prints is streamed to the deploy's output; its result line is read like
any other output of the app (types checked, sizes capped), never trusted further.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import roost
from roost.build.proc import StepTimeout, clean_env, run_step
from roost.errors import InvalidInput, RuntimeFailure
from roost.hosts import runner
from roost.hosts.worker import RESULT
from roost.runtime import cgroups, sandbox
from roost.runtime.limits import ResourceLimits
from roost.runtime.sandbox import Identity

FOLDER = "recipes"
MAX_FILES = 500
MAX_BYTES = 8 * 1024 * 1024
MAX_OPERATIONS = 1000
LIMITS = ResourceLimits(memory=1024 ** 3, cpu=1.0, pids=512)
BOOT = ("from gevent import monkey; monkey.patch_all(); import sys; "
        "from roost.hosts.worker import main; main(sys.argv[1])")


@dataclass(frozen=True)
class AppRecipes:
    """The files of an app's ``recipes/`` folder (path inside it -> content)."""

    files: dict[str, bytes]

    @property
    def order(self) -> list[str]:
        """The recipes that run, in name order: top-level ``*.py``, not ``_*`` or ``.*``."""
        return sorted(p for p in self.files if "/" not in p and p.endswith(".py")
                      and not p.startswith(("_", ".")))

    @property
    def digest(self) -> str:
        """SHA-256 over every file's path and content: equal digests, equal recipes."""
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return h.hexdigest() if self.order else ""


def from_slug(slug: Path) -> AppRecipes:
    """The ``recipes/`` folder of a slug (regular files only: links are left out)."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(slug, "r:*") as tar:
            for member in tar:
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if len(parts) < 2 or parts[0] != FOLDER or not member.isfile():
                    continue
                rel = "/".join(parts[1:])
                if member.name.startswith("/") or ".." in parts \
                        or posixpath.normpath(rel) != rel:
                    continue  # the build refuses these; never a path outside the folder
                total += member.size
                if len(files) >= MAX_FILES or total > MAX_BYTES:
                    raise InvalidInput(f"recipes/ holds more than {MAX_FILES} files or "
                                       f"{MAX_BYTES // 2 ** 20} MB: keep only the recipes "
                                       "and the files they put")
                fh = tar.extractfile(member)
                if fh is not None:
                    files[rel] = fh.read(member.size + 1)[:member.size]
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RuntimeFailure(f"cannot read recipes/ from the slug: {exc}") from None
    return AppRecipes(files)


def code_paths(home: Path) -> list[Path]:
    """What the worker needs read-only: Roost's package, its virtualenv, the interpreter's
    prefix; refused when one of them holds ROOST_HOME or lies inside it."""
    found = [Path(roost.__file__).resolve().parent, Path(sys.prefix).resolve(),
             Path(sys.base_prefix).resolve()]
    paths: list[Path] = []
    for path in dict.fromkeys(found):
        if path == Path("/usr") or Path("/usr") in path.parents:
            continue  # the sandbox has /usr already
        real_home = Path(os.path.realpath(home))
        if path.is_relative_to(real_home) or real_home.is_relative_to(path):
            raise RuntimeFailure(f"Roost's code ({path}) and ROOST_HOME ({home}) overlap, so "
                                 "app recipes cannot run sandboxed: install Roost outside "
                                 "ROOST_HOME")
        paths.append(path)
    return [p for p in paths if not any(o in p.parents for o in paths)]


def _write_tree(root: Path, recipes: AppRecipes) -> None:
    root.mkdir(mode=0o700)
    for rel, data in recipes.files.items():
        target = root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:  # a file and a folder of one name: the slug was made by hand
            raise InvalidInput(f"recipes/{rel} cannot be written ({exc.strerror})") from None


def run(spec: runner.HostSpec, recipes: AppRecipes, *, app: str, work: Path, home: Path,
        identity: Identity | None, on_line: Callable[[str], None],
        timeout: float = 1800.0) -> dict[str, Any]:
    """Apply the app's recipes on its host from the build sandbox; the host's result
    (``failed``, ``error``, ``operations``). ``work`` (made here, removed after) must be a
    fresh path inside ROOST_HOME's build area."""
    work.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    work.mkdir(mode=0o700)
    group = None
    try:
        tree = work / FOLDER
        _write_tree(tree, recipes)
        order = [str(tree / name) for name in recipes.order]
        job = runner.write_job(work, "apply", [replace(spec, recipes=order)], order)
        job.update(stream=True, cwd=str(tree))
        (work / "job.json").write_text(json.dumps(job))
        env = clean_env(work / "home", extra={"PYTHONPATH": str(Path(roost.__file__).resolve()
                                                                .parent.parent),
                                              "PYTHONDONTWRITEBYTECODE": "1"})
        sandbox.give([work], identity)
        jail = sandbox.for_build(True, identity, [work], code_paths(home), tree, home=home)
        assert jail is not None
        group = cgroups.shared(home).create(app, "recipes", LIMITS)
        if group is not None:
            jail.cgroup_files = group.procs_files
        lines: list[str] = []
        result: list[str] = []

        def line(text: str) -> None:
            if text.startswith(RESULT):
                result.append(text[len(RESULT):])
                return
            lines.append(text)
            del lines[:-20]
            on_line(text)

        try:
            step = run_step([sys.executable, "-s", "-c", BOOT, str(work / "job.json")],
                            cwd=tree, env=env, deadline=time.monotonic() + timeout,
                            on_line=line, jail=jail)
        except StepTimeout:
            raise RuntimeFailure(f"the recipes did not finish within {timeout:.0f} s") from None
    finally:
        if group is not None:
            group.remove()
        shutil.rmtree(work, ignore_errors=True)
    return _result(result[-1] if result else "", spec.name, step.returncode, lines)


def _result(text: str, host: str, code: int, tail: list[str]) -> dict[str, Any]:
    """The worker's result for ``host``, checked: it comes from the app's sandbox."""
    try:
        loaded = json.loads(text) if text else {}
    except ValueError:
        loaded = {}
    entry = (loaded.get("hosts") or {}).get(host) if isinstance(loaded, dict) else None
    if not isinstance(entry, dict):
        why = loaded.get("error") if isinstance(loaded, dict) else None
        last = next((t.strip() for t in reversed(tail) if t.strip()), "")
        return {"failed": True, "connected": False, "operations": [],
                "error": str(why or last or f"the recipes' worker exited with {code}")[:1000]}
    ops = []
    for op in (entry.get("operations") or [])[:MAX_OPERATIONS]:
        if isinstance(op, dict):
            ops.append({"name": str(op.get("name", ""))[:200],
                        "status": str(op.get("status", ""))[:20]})
    failed = entry.get("failed") is not False or code != 0 \
        or any(o["status"] == "failed" for o in ops)
    return {"failed": failed, "connected": entry.get("connected") is True,
            "operations": ops, "error": str(entry.get("error") or "")[:1000]}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The apply log's entry for one run (as ``roost hosts log`` shows every apply)."""
    ops = result.get("operations", [])
    bad = next((o["name"] for o in ops if o.get("status") == "failed"), "")
    return {"status": "failed" if result.get("failed") else "ok",
            "changed": sum(1 for o in ops if o.get("status") == "changed"),
            "unchanged": sum(1 for o in ops if o.get("status") == "ok"),
            "failed_operation": bad, "error": result.get("error", ""), "batch": 1}

