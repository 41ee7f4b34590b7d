"""The hand-over journal: one line appended the moment the next hop answers 250, so a crash
before that outcome reaches the store does not send the message a second time.

Recording a delivery in the store takes a transaction, and on SQLite a turn at the single
write lock; a SIGKILL between the remote's 250 and that commit used to leave the delivery
"sending", so after the restart it went out again. A ``write`` of one line to a file of our
own survives the process being killed (the kernel has it) and costs a system call, so the
window left is between the remote sending its 250 and this process reading it. At start,
``recover`` replays the lines of runs that are gone: a delivery still leased to the token
a line names is recorded as delivered, then its file is deleted.

Lines are ``ok DELIVERY_ID LEASE_TOKEN``. Each process writes its own files
(``PID.GEN.log``); a file is deleted once every delivery it names is in the store, so the
journal stays small while `roost up` runs.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roost.mail import queue, writes
from roost.mail.queue import Job, Outcome
from roost.store.models.mail import MailDelivery, MailDomain, MailMessage

log = logging.getLogger("roost.mail")
ROTATE_BYTES = 1024 * 1024


class Journal:
    """This process's journal files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory, self.pid = directory, os.getpid()
        self.lock = threading.Lock()
        self.gen, self.size = 0, 0
        self.pending: dict[int, int] = {}  # generation -> deliveries not yet in the store
        self.fd = self._open()

    def _path(self, gen: int) -> Path:
        return self.directory / f"{self.pid}.{gen}.log"

    def _open(self) -> int:
        return os.open(self._path(self.gen), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def note(self, delivery_id: int, token: str) -> int:
        """Append that ``delivery_id`` was taken by the next hop; the file's generation,
        to give to ``stored`` once the store has the outcome."""
        line = f"ok {delivery_id} {token}\n".encode()
        with self.lock:
            os.write(self.fd, line)
            self.size += len(line)
            self.pending[self.gen] = self.pending.get(self.gen, 0) + 1
            gen = self.gen
            if self.size >= ROTATE_BYTES:
                os.close(self.fd)
                self.gen, self.size = self.gen + 1, 0
                self.fd = self._open()
        return gen

    def stored(self, gen: int) -> None:
        """The store has the outcome of a delivery noted in ``gen``: old files whose
        deliveries are all stored are deleted."""
        with self.lock:
            self.pending[gen] -= 1
            for old in [g for g, n in self.pending.items() if n <= 0 and g < self.gen]:
                del self.pending[old]
                self._path(old).unlink(missing_ok=True)

    def close(self) -> None:
        """Close the current file (it stays until the next start's ``recover``)."""
        with self.lock:
            os.close(self.fd)


def _entries(path: Path) -> list[tuple[int, str]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ok" and parts[1].isdigit():
            found.append((int(parts[1]), parts[2]))
    return found  # a line cut short by the kill has no token and is skipped


def recover(factory: sessionmaker[Session], directory: Path,
            alive: Callable[[int], bool]) -> int:
    """Record as delivered what the journals of stopped runs say the next hop took (when
    the delivery is still leased to that run), delete those journals; return how many."""
    if not directory.is_dir():
        return 0
    done = 0
    for path in sorted(directory.glob("*.log")):
        pid = path.name.split(".", 1)[0]
        if not pid.isdigit() or (int(pid) != os.getpid() and alive(int(pid))):
            continue
        entries = _entries(path)
        if entries:
            done += _apply(factory, entries)
        path.unlink(missing_ok=True)
    if done:
        log.info("mail: %d deliveries the next hop took just before a stop were recorded "
                 "as delivered (not sent again)", done)
    return done


def _apply(factory: sessionmaker[Session], entries: list[tuple[int, str]]) -> int:
    tokens = dict(entries)
    done = 0
    with writes.writing(factory) as session:
        rows = session.execute(
            select(MailDelivery, MailMessage.domain, MailDomain.webhook_url)
            .join(MailMessage, MailMessage.id == MailDelivery.message_pk)
            .outerjoin(MailDomain, MailDomain.domain == MailMessage.domain)
            .where(MailDelivery.id.in_(list(tokens)), MailDelivery.status == "sending"))
        for row, domain, webhook_url in rows.all():
            token = tokens[row.id]
            if row.lease_owner != token:
                continue
            job = Job(row.id, row.message_pk, row.app, row.recipient, row.attempts,
                      row.created_at, token)
            if queue.finish(session, job, Outcome("delivered", 250, "250 accepted by the "
                                                  "next hop (recorded from the journal after "
                                                  "a restart)"),
                            domain=domain, webhook=bool(webhook_url)):
                done += 1
    return done
