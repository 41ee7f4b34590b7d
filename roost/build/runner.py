"""Run buildpacks over a build directory with the Heroku classic buildpack API."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.build.fetch import BUILTINS, Buildpack, fetch_buildpack
from roost.build.proc import StepResult, StepTimeout, run_step
from roost.errors import BuildError
from roost.runtime import sandbox
from roost.runtime.sandbox import Identity, Jail

Output = Callable[[str], None]
CONFIG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by bash itself when an export file is sourced; never part of the build env.
BASH_NOISE = frozenset({"_", "SHLVL", "PWD", "OLDPWD"})


@dataclass
class BuildContext:
    """Everything a buildpack step needs: directories, the clean env and the deadline."""

    build_dir: Path
    cache_dir: Path
    env_dir: Path
    work_dir: Path
    env: dict[str, str]
    deadline: float
    timeout: float
    on_output: Output
    tail_lines: int = 30
    durations: dict[str, float] = field(default_factory=dict)
    jail: Jail | None = None  # the build's sandbox (None: ROOST_SANDBOX=off)
    identity: Identity | None = None  # the build user its buildpacks are handed to
    cgroup: Any = None  # the build's cgroups.ProcessGroup (memory, CPU, pids), if any


def write_env_dir(env_dir: Path, config: dict[str, str]) -> None:
    """One file per config var, as ``bin/compile`` expects in ENV_DIR."""
    env_dir.mkdir(parents=True, exist_ok=True)
    for name, value in config.items():
        if not CONFIG_NAME.match(name):
            raise BuildError(f"config var name {name!r} is not a valid variable name",
                             step="config")
        (env_dir / name).write_text(value)


def read_buildpacks_file(build_dir: Path) -> list[str]:
    """URLs from the app's ``.buildpacks`` file, one a line (``#`` comments allowed)."""
    path = build_dir / ".buildpacks"
    if not path.is_file():
        return []
    lines = (ln.split("#", 1)[0].strip() if ln.lstrip().startswith("#") else ln.strip()
             for ln in path.read_text().splitlines())
    return [ln for ln in lines if ln]


def _step(ctx: BuildContext, bp: Buildpack, step: str, argv: list[str],
          capture: bool = False) -> StepResult:
    script = Path(argv[0])
    if not script.is_file():
        raise BuildError(f"buildpack {bp.name}: bin/{step} is missing", step=step)
    if not os.access(script, os.X_OK):
        argv = ["/bin/bash", *argv]  # tarballs and zips often lose the exec bit
    try:
        return run_step(argv, cwd=ctx.build_dir, env=ctx.env, deadline=ctx.deadline,
                        on_line=ctx.on_output, capture=capture, tail_lines=ctx.tail_lines,
                        jail=ctx.jail)
    except StepTimeout as exc:
        raise BuildError(f"build timed out after {ctx.timeout:.0f}s in buildpack {bp.name} "
                         f"({step})", step=step) from exc
    except OSError as exc:
        raise BuildError(f"buildpack {bp.name}: cannot run bin/{step}: {exc}", step=step) from exc


def _fail(bp: Buildpack, step: str, result: StepResult, what: str) -> BuildError:
    tail = "\n".join(result.tail)
    return BuildError(f"buildpack {bp.name} failed at {step}: {what}", step=step,
                      output_tail=tail)


def detect(ctx: BuildContext, bp: Buildpack) -> str | None:
    """Run ``bin/detect``; the name it prints when it claims the app, else None."""
    res = _step(ctx, bp, "detect", [str(bp.path / "bin" / "detect"), str(ctx.build_dir)],
                capture=True)
    if res.returncode != 0:
        return None
    return (res.output.strip().splitlines() or [bp.name])[0]


def compile_(ctx: BuildContext, bp: Buildpack) -> float:
    """Run ``bin/compile``; raise BuildError with the last output lines when it fails."""
    argv = [str(bp.path / "bin" / "compile"), str(ctx.build_dir), str(ctx.cache_dir),
            str(ctx.env_dir)]
    res = _step(ctx, bp, "compile", argv)
    if res.returncode != 0:
        raise _fail(bp, "compile", res, f"bin/compile exited with status {res.returncode}")
    return res.seconds


def release(ctx: BuildContext, bp: Buildpack) -> str:
    """Run ``bin/release`` (optional) and return its YAML output."""
    script = bp.path / "bin" / "release"
    if not script.exists():
        return ""
    res = _step(ctx, bp, "release", [str(script), str(ctx.build_dir)], capture=True)
    if res.returncode != 0:
        raise _fail(bp, "release", res, f"bin/release exited with status {res.returncode}")
    return res.output


def source_export(ctx: BuildContext, bp: Buildpack) -> None:
    """Source the buildpack's ``export`` file and carry its variables to later buildpacks."""
    export = bp.path / "export"
    if not export.is_file():
        return
    res = _step(ctx, bp, "export", ["/bin/bash", "-c", 'set -e; . "$1" >&2; env -0', "export",
                                    str(export)], capture=True)
    if res.returncode != 0:
        raise _fail(bp, "export", res, "sourcing its export file failed")
    env: dict[str, str] = {}
    for item in res.output.split("\0"):
        name, sep, value = item.partition("=")
        if sep and name not in BASH_NOISE:
            env[name] = value
    ctx.env = env


def select_buildpacks(ctx: BuildContext, refs: list[str]) -> list[tuple[Buildpack, str]]:
    """Fetch and detect: every listed buildpack must claim the app; else the first built-in."""
    if not refs:
        for name in BUILTINS:
            bp = fetch_buildpack(name, ctx.work_dir / "buildpacks" / name, ctx.env)
            sandbox.give([bp.path], ctx.identity)
            label = detect(ctx, bp)
            if label is not None:
                return [(bp, label)]
        raise BuildError("no buildpack detected this app (tried "
                         f"{', '.join(BUILTINS)}); add requirements.txt, package.json or a "
                         "Procfile, or set buildpacks explicitly", step="detect")
    chosen = []
    for i, ref in enumerate(refs):
        ctx.on_output(f"-----> Fetching buildpack {ref}")
        remaining = max(1.0, ctx.deadline - time.monotonic())
        bp = fetch_buildpack(ref, ctx.work_dir / "buildpacks" / str(i), ctx.env, remaining)
        sandbox.give([bp.path], ctx.identity)
        label = detect(ctx, bp)
        if label is None:
            raise BuildError(f"buildpack {ref} failed at detect: it does not support this app",
                             step="detect")
        chosen.append((bp, label))
    return chosen
