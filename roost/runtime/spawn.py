"""Starting one app process: its environment, inherited sockets, sandbox and output.

Every process runs through bash in its release directory (``/app`` inside the sandbox, see
:mod:`roost.runtime.sandbox`) with ``HOME`` there: config vars first, then
``.profile.d/*.sh`` and ``.profile``, then the Procfile command (so ``$PORT`` expands).
Inherited sockets follow systemd's protocol: fd 3 onwards, ``LISTEN_FDS`` and
``LISTEN_PID``, set by that shell inside the sandbox's PID namespace to its own pid just
before it execs the command, so it is the pid the app sees. Output is read in chunks of at
most ``MAX_LINE`` bytes: a longer line is split and its pieces marked.
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import socket
import subprocess
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from roost.lines import bounded_lines
from roost.runtime import sandbox

# Inherited sockets arrive at arbitrary numbers (ROOST_FDS); the shell moves them to 3, 4, …
# through a range above all of them (ROOST_FD_BASE) so that no move overwrites another,
# then sets LISTEN_PID to its own pid, which the command keeps because the shell execs it.
SHIM = (
    'if [ -n "$ROOST_FDS" ]; then set -- $ROOST_FDS; i=$ROOST_FD_BASE; '
    'for fd; do eval "exec $i<&$fd $fd<&-"; i=$((i+1)); done; j=3; k=$ROOST_FD_BASE; '
    'while [ $k -lt $i ]; do eval "exec $j<&$k $k<&-"; j=$((j+1)); k=$((k+1)); done; '
    'export LISTEN_PID=$$; fi; unset ROOST_FDS ROOST_FD_BASE; '
    'for f in .profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; '
    '[ -r .profile ] && . ./.profile; '
    'exec bash -c "$ROOST_COMMAND"'
)
LOW_NICENESS = 19  # booting and draining generations: the serving one keeps the CPU
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bind_socket(host: str = "127.0.0.1", port: int = 0, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket (inheritable, without SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(config: dict[str, str], extra: dict[str, str], home: Path) -> dict[str, str]:
    """The process environment: a clean base, the app's config vars, then platform vars."""
    env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": str(home), "SHELL": "/bin/bash"}
    env.update(config)
    env.update(extra)
    return env


def spawn(command: str, cwd: Path, env: dict[str, str], sockets: list[socket.socket],
          on_line: Callable[[str], None], jail: sandbox.Jail | None = None,
          niceness: int = 0) -> subprocess.Popen[bytes]:
    """Start ``command`` in ``cwd`` (sandboxed by ``jail`` when given) at ``niceness``; each
    output line goes to ``on_line`` from a thread.

    The niceness is set before the first exec (by ``nice``, which execs what follows in
    the same process), so every process the command forks inherits it: lowering a running
    group later misses a child whose fork is under way at that instant."""
    env = dict(env)
    env["ROOST_COMMAND"] = command
    fds = [s.fileno() for s in sockets]
    if fds:
        env["ROOST_FDS"] = " ".join(str(fd) for fd in fds)
        # Above every inherited socket: a busy platform hands out numbers past 100, and a
        # fixed range there once moved a socket onto itself and closed it (EBADF in the app).
        env["ROOST_FD_BASE"] = str(max(100, *fds) + 1)
        env["LISTEN_FDS"] = str(len(fds))
        env["LISTEN_FDNAMES"] = ":".join(["web", "health"][: len(fds)])
    else:  # a config var of these names must not make the shell move descriptors
        for name in ("ROOST_FDS", "ROOST_FD_BASE", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(name, None)
    argv = ["bash", "-c", SHIM]
    inherit = list(fds)
    if jail is not None:
        argv, env, cwd = jail.wrap(argv, env, cwd)
        inherit += jail.fds
    if niceness:
        argv = ["nice", "-n", str(niceness), *argv]
    try:
        proc = popen(argv, jail is not None, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=inherit,
                     start_new_session=True)
    finally:
        if jail is not None:
            jail.close_fds()
    threading.Thread(target=_pump, args=(proc, on_line), daemon=True,
                     name=f"output-{proc.pid}").start()
    return proc


def _pump(proc: subprocess.Popen[bytes], on_line: Callable[[str], None]) -> None:
    assert proc.stdout is not None
    for line in bounded_lines(proc.stdout):  # bounded: a line without end cannot fill memory
        on_line(line)
    proc.stdout.close()


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped yet holds no port any more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def set_priority(proc: subprocess.Popen[bytes], niceness: int) -> None:
    """Set the scheduling niceness of the process's whole group (best effort).

    Each app process leads its own session, and where the kernel groups sessions for
    scheduling (autogroup), a niceness only ranks threads inside their session: the session's
    own weight (/proc/PID/autogroup) is what ranks it against other sessions, so both are set.
    """
    if proc.returncode is not None:  # reaped: its number may be another process's now
        return
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.setpriority(os.PRIO_PGRP, proc.pid, niceness)
    with contextlib.suppress(OSError):
        Path(f"/proc/{proc.pid}/autogroup").write_text(str(niceness))


def may_raise_priority() -> bool:
    """Whether Roost may give a process back the niceness 0 it took from it (root, or an
    RLIMIT_NICE that allows it)."""
    soft = resource.getrlimit(resource.RLIMIT_NICE)[0]
    return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= 20


class _Spawner:
    """One long-lived thread that forks every sandbox (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="sandbox-spawner")
                self._thread.start()
        future: Future[Any] = Future()
        self._jobs.put((fn, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


_SPAWNER = _Spawner()
_SANDBOXED: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


def popen(argv: list[str], sandboxed: bool = False, **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **kwargs)`` forked from the spawner thread (see
    :mod:`roost.runtime.sandbox`); ``sandboxed`` when ``argv`` comes from
    :meth:`~roost.runtime.sandbox.Jail.wrap` (it leads its own process group)."""
    proc: subprocess.Popen[bytes] = _SPAWNER.run(lambda: subprocess.Popen(argv, **kwargs))
    if sandboxed:
        _SANDBOXED.add(proc)
    return proc


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the process's group (it leads one); for a sandbox, SIGKILL goes to
    the whole group and any other signal to every member but bwrap.

    Once the leader is reaped its number is free again unless members of its group are
    left: the signal then goes to those members one by one, never to the group by number,
    which may by now be the group of an unrelated process that was given that number."""
    reaped = proc.returncode is not None
    if not reaped and (sig == signal.SIGKILL or proc not in _SANDBOXED):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        return
    for pid in _group_members(proc.pid):
        if pid != proc.pid:  # bwrap; or, once reaped, whatever holds the number now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _group_members(pgid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found
