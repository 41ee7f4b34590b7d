"""One-off processes (`roost run`): the app's environment, output streamed, exit code kept."""

from __future__ import annotations

import queue
from collections.abc import Iterator

from roost.runtime import sandbox, spawn
from roost.runtime.model import ReleaseSpec
from roost.runtime.supervisor import Limits


def run(spec: ReleaseSpec, command: str, limits: Limits | None = None,
        timeout: float = 3600.0) -> Iterator[str | int]:
    """Yield output lines as they come, then the exit code (an int) last; the process runs
    in the same sandbox, as the same user, as the app's other processes."""
    limits = limits or Limits()
    lines: queue.Queue[str | None] = queue.Queue()
    env = spawn.environment(spec.env, {"DYNO": "run.1", "PS": "run.1",
                                       "ROOST_RELEASE": f"v{spec.release}",
                                       "PORT": str(spawn.free_port())}, spec.directory)
    identity = sandbox.identity("app", spec.app, limits.user) if limits.sandbox else None
    jail = sandbox.for_release(limits.sandbox, spec.directory, identity, limits.home,
                               extra=limits.sandbox_paths)
    proc = spawn.spawn(command, spec.directory, env, [], lines.put, jail)

    try:
        while True:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None and lines.empty():
                    # the output thread may still hold the last lines; give it a moment
                    try:
                        line = lines.get(timeout=1.0)
                    except queue.Empty:
                        break
                else:
                    continue
            if line is None:
                break
            yield line
        yield proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            spawn.signal_group(proc, 9)
            proc.wait()
