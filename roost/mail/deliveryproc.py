"""Mail delivery in processes of their own beside `roost up`.

Delivering a message costs CPU: DKIM signing, the SMTP hand-over, recording the outcome. In
`roost up`'s own threads that work shares one interpreter lock with the SMTP server and the
API that accept mail, so accepting waits on delivering. A delivery process runs on another
core instead, and `roost up` answers the submitting apps sooner.

Each process is ``python -m roost.mail.deliveryproc``. It reads its settings as one JSON line
on stdin (the store's address and the key of the secrets among them: never on its command
line or in its environment), then one command a line: ``k`` (mail was accepted: claim now),
``f DOMAIN`` (forget what is cached of DOMAIN: its keys were rotated or its webhook set),
``s`` (stop: finish the deliveries in hand, give back the rest). It claims, signs, delivers
and records as `roost up`'s threads otherwise do, with leases and journal files of its own
(``HOST:PID``). It dies with `roost up` (``PR_SET_PDEATHSIG``); when it stops on its own,
`roost up` replays its journal, frees its leases and starts another in its place. What it
logs goes to `roost up`'s own log (a line a record, on a pipe read by `roost up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from roost.mail import journal

if TYPE_CHECKING:
    from roost.mail.service import MailConfig

log = logging.getLogger("roost.mail")
STOP_WAIT = 75.0  # seconds a process has to finish its deliveries in hand (its own waits: 60)


@dataclass(frozen=True)
class Store:
    """Where a delivery process finds the store and the key of the secrets."""

    database_url: str
    home: str
    secret_key: str = ""


class _Child:
    """One delivery process, and the pipe that tells it what to do."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "roost.mail.deliveryproc"],
                                     stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.fd = self.proc.stdin.fileno()
        self.lock = threading.Lock()
        os.write(self.fd, json.dumps(spec).encode() + b"\n")
        os.set_blocking(self.fd, False)  # a process that stopped reading never blocks intake
        self.reader = threading.Thread(target=_relay_log, args=(self.proc.stderr,),
                                       name=f"roost-mail-log-{self.proc.pid}", daemon=True)
        self.reader.start()

    def tell(self, line: str) -> None:
        """Send one command; a full or closed pipe drops it (kicks are hints, the process
        also looks for work every half second)."""
        with self.lock, contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(self.fd, line.encode() + b"\n")


class Children:
    """`roost up`'s delivery processes: started, told, watched and stopped together."""

    def __init__(self, store: Store, config: MailConfig, alive: Callable[[int], bool]) -> None:
        self.store, self.config, self.alive = store, config, alive
        self.procs: list[_Child] = []
        self.stopping = False
        self.watch_task: asyncio.Task[None] | None = None

    def _spec(self) -> dict[str, Any]:
        threads = max(1, self.config.workers // max(1, self.config.processes))
        return {"parent": os.getpid(), "store": dataclasses.asdict(self.store),
                "config": dataclasses.asdict(self.config), "threads": threads,
                "log_level": logging.getLogger().getEffectiveLevel()}

    async def start(self, sessions: sessionmaker[Session]) -> None:
        """Start the processes (from the event loop's thread, which lives as long as `roost
        up`: a child dies with the thread that started it) and watch them."""
        self.stopping = False
        self.procs = [_Child(self._spec()) for _ in range(self.config.processes)]
        self.watch_task = asyncio.create_task(self._watch(sessions))

    def kick(self) -> None:
        """Tell every process that mail was accepted."""
        for child in self.procs:
            child.tell("k")

    def forget(self, domain: str) -> None:
        """Tell every process to drop what it cached of ``domain``."""
        for child in self.procs:
            child.tell(f"f {domain}")

    async def _watch(self, sessions: sessionmaker[Session]) -> None:
        while not self.stopping:
            await asyncio.sleep(1.0)
            for index, child in enumerate(self.procs):
                code = child.proc.poll()
                if code is None or self.stopping:
                    continue
                log.warning("mail: delivery process %d stopped (exit status %s); replaying "
                            "its journal and starting another", child.proc.pid, code)
                try:
                    await asyncio.to_thread(
                        journal.settle_stopped, sessions,
                        Path(self.config.journal) if self.config.journal else None,
                        os.uname().nodename, self.alive)
                except Exception:
                    log.exception("mail: recovering after delivery process %d failed",
                                  child.proc.pid)
                    continue  # tried again in a second; its leases expire meanwhile anyway
                if not self.stopping:
                    self.procs[index] = _Child(self._spec())

    async def stop(self) -> None:
        """Tell every process to stop; wait for each to finish what it has in hand."""
        self.stopping = True
        if self.watch_task is not None:
            self.watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watch_task
        for child in self.procs:
            child.tell("s")
        for child in self.procs:
            try:
                await asyncio.to_thread(child.proc.wait, STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.warning("mail: delivery process %d did not stop in %.0f s; killed",
                            child.proc.pid, STOP_WAIT)
                child.proc.kill()
                await asyncio.to_thread(child.proc.wait)
            if child.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    child.proc.stdin.close()
        self.procs = []


LOG_FORMAT = "%(levelno)d %(name)s %(message)s"  # what a delivery process writes a record as
_RECORD = re.compile(r"^(\d{1,2}) (\S+) (.*)$")


class _OneLine(logging.Formatter):
    """``LOG_FORMAT``, with each further line of a record (a traceback, a next hop's reply
    of several lines) indented by a tab, so no text in a record can pass for a record."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\n\t")


def _relay_log(stream: IO[bytes]) -> None:
    """Log here what a delivery process logged: a record per line as ``_OneLine`` writes
    it, its further lines after a tab; anything else (the interpreter's own last words) as a
    warning."""
    level, name = logging.ERROR, "roost.mail"
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        found = _RECORD.match(line)
        if line.startswith("\t"):
            line = line[1:]
        elif found:
            level, name, line = int(found.group(1)), found.group(2), found.group(3)
        else:
            level, name = logging.WARNING, "roost.mail"
        logging.getLogger(name).log(level, "%s", line)
    stream.close()


def _die_with(parent: int) -> None:
    """Be killed when `roost up` goes (Linux's parent-death signal), even by SIGKILL."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it went before the signal was asked for
        os._exit(0)


class _Stop(Exception):
    """SIGTERM: stop as when `roost up` says ``s``."""


def _stop_requested(signum: int, frame: object) -> None:
    raise _Stop


def main() -> None:
    """The delivery process: settings from stdin's first line, then commands."""
    spec = json.loads(sys.stdin.buffer.readline())
    _die_with(int(spec["parent"]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is for `roost up`
    signal.signal(signal.SIGTERM, _stop_requested)  # a service manager's stop: as "s"
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine(LOG_FORMAT))
    logging.basicConfig(level=int(spec["log_level"]), handlers=[handler])
    from roost.core.secrets import Cipher, load_or_create_key
    from roost.mail.journal import Journal
    from roost.mail.service import MailConfig, new_deliverer
    from roost.mail.worker import Limits
    from roost.store.session import make_engine, make_sessionmaker

    raw = spec["config"]
    config = MailConfig(**{**raw, "limits": Limits(**raw["limits"])})
    store = Store(**spec["store"])
    sessions = make_sessionmaker(make_engine(store.database_url))
    cipher = Cipher(load_or_create_key(Path(store.home), store.secret_key))
    deliverer = new_deliverer(sessions, cipher, config)
    if config.journal:
        deliverer.journal = Journal(Path(config.journal))
    deliverer.start(int(spec["threads"]))
    with contextlib.suppress(_Stop):
        for line in sys.stdin.buffer:  # the end of stdin: `roost up` is gone
            command = line.decode(errors="replace").strip()
            if command == "k":
                deliverer.kick.set()
            elif command.startswith("f "):
                deliverer.forget(command[2:])
            elif command == "s":
                break
    deliverer.stop()


if __name__ == "__main__":
    main()
