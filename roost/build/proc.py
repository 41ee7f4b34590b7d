"""Run one build step as a child process: clean environment, live output, a deadline."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.lines import split_long
from roost.runtime import spawn
from roost.runtime.sandbox import Jail

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# After the step exits, how long children that still hold its output may keep writing.
DRAIN_SECONDS = 2.0


class StepTimeout(Exception):
    """The step outlived the build deadline; its process group was killed."""


@dataclass
class StepResult:
    """How a step ended: exit code, its output (when captured) and the last lines."""

    returncode: int
    output: str
    tail: list[str]
    seconds: float


def clean_env(home: Path, path: str = DEFAULT_PATH, extra: dict[str, str] | None = None
              ) -> dict[str, str]:
    """A minimal environment built from nothing: the server's own variables never leak in."""
    env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "TERM": "dumb", "TMPDIR": str(home / "tmp")}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(extra or {})
    return env


def run_step(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    deadline: float,
    on_line: Callable[[str], None] | None,
    capture: bool = False,
    tail_lines: int = 30,
    jail: Jail | None = None,
) -> StepResult:
    """Run ``argv`` in its own process group, passing each output line to ``on_line``.

    stdout and stderr are merged, as a buildpack's user sees them. When ``deadline``
    (a ``time.monotonic()`` value) passes, the whole process group is killed and
    StepTimeout is raised. With ``capture`` the output is returned instead of streamed.
    With ``jail`` the step runs in that sandbox (:mod:`roost.runtime.sandbox`).
    """
    start = time.monotonic()
    tail: deque[str] = deque(maxlen=tail_lines)
    captured: list[str] = []
    command = list(argv)
    if jail is not None:
        command, env, cwd = jail.wrap(command, env, cwd)
    try:
        proc = spawn.popen(command, jail is not None, cwd=cwd, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, start_new_session=True,
                           pass_fds=jail.fds if jail is not None else ())
    finally:
        if jail is not None:
            jail.close_fds()
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    pending = b""

    def emit(raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        tail.append(line)
        if capture:
            captured.append(line)
        elif on_line is not None:
            on_line(line)

    drain_until: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise StepTimeout(f"{argv[0]} still running at the deadline")
            if drain_until is None and proc.poll() is not None:
                drain_until = now + DRAIN_SECONDS
            limit = deadline if drain_until is None else min(deadline, drain_until)
            if drain_until is not None and now >= drain_until:
                break
            events = sel.select(timeout=min(0.5, max(0.0, limit - now)))
            if not events:
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            long_pieces, pending = split_long(pending)  # a line without end: bounded pieces
            for raw in lines + long_pieces:
                emit(raw)
        # Output closed: the step is exiting; give it until the deadline to finish.
        try:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise StepTimeout(f"{argv[0]} still running at the deadline") from exc
    finally:
        _kill_group(proc)
        sel.close()
        proc.stdout.close()
    if pending:
        emit(pending)
    return StepResult(code, "\n".join(captured), list(tail), time.monotonic() - start)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of the step's process group (daemons a buildpack forgot)."""
    spawn.signal_group(proc, signal.SIGKILL)  # never a group that took its number since
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
