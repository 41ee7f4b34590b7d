"""One-off processes (`roost run`): the app's environment, output streamed, exit code kept."""

from __future__ import annotations

import queue
from collections.abc import Iterator

from roost.runtime import spawn
from roost.runtime.launch import Launcher, Limits
from roost.runtime.model import ReleaseSpec


def run(spec: ReleaseSpec, command: str, launcher: Launcher | None = None,
        timeout: float = 3600.0) -> Iterator[str | int]:
    """Yield output lines as they come, then the exit code (an int) last; the process runs
    in the same kind of sandbox, as the same user, as the app's other processes, with the
    limits of the app's ``run`` process type."""
    launcher = launcher or Launcher(Limits(), None)
    lines: queue.Queue[str | None] = queue.Queue()
    env = spawn.environment(spec.env, {"DYNO": "run.1", "PS": "run.1",
                                       "ROOST_RELEASE": f"v{spec.release}",
                                       "PORT": str(spawn.free_port())}, spec.directory)
    jail, group = launcher.jail(spec, "run", "run.1")
    try:
        proc = spawn.spawn(command, spec.directory, env, [], lines.put, jail)
    except BaseException:
        if group is not None:
            group.remove()
        raise

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
        if group is not None:
            group.remove()
