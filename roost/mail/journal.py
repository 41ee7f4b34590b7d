"""The hand-over journal: a line appended the moment the final dot of a message has gone to
the kernel, and another when the next hop has answered, so a crash before the outcome
reaches the store does not send the message a second time.

Recording a delivery in the store takes a transaction, and on SQLite a turn at the single
write lock; a SIGKILL between the remote's 250 and that commit used to leave the delivery
"sending", so after the restart it went out again. A ``write`` of one line to a file of our
own survives the process being killed (the kernel has it) and costs a system call.

At start, ``recover`` replays the files of runs that are gone, for deliveries still leased
to the token a line names: ``ok`` (the next hop said 250) is recorded as delivered; ``no``
(it refused) changes nothing, so the delivery is tried again; ``sent`` alone means the run
died after the whole message, dot included, left it and before the reply was read. TCP
still hands the kernel's copy to the next hop after the process is gone, which then takes
the message as any MTA does, so it is recorded as delivered (with an event that says it was
assumed) rather than sent again. That choice loses a message only if the next hop refused
it in that instant (a 4xx/5xx we never read); sending it again would duplicate it whenever
it did not. The window in which a crash sends a message twice is thus closed; what is left
is this one ambiguous reply, decided towards no duplicate.

Lines are ``sent|ok|no DELIVERY_ID LEASE_TOKEN``. Each process writes its own files
(``PID.GEN.log``); a file is deleted once every delivery sent in it is in the store, so the
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

from roost.mail import outcomes, queue, writes
from roost.mail.outcomes import Outcome
from roost.mail.queue import Job
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

    def sent(self, delivery_id: int, token: str) -> int:
        """Append that the whole of ``delivery_id`` has left for the next hop; the file's
        generation, to give to ``stored`` once the store has the outcome."""
        line = f"sent {delivery_id} {token}\n".encode()
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

    def answered(self, delivery_id: int, token: str, taken: bool) -> None:
        """Append the next hop's answer to a message ``sent`` noted: taken (250) or not."""
        line = f"{'ok' if taken else 'no'} {delivery_id} {token}\n".encode()
        with self.lock:
            os.write(self.fd, line)
            self.size += len(line)

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


def _entries(path: Path) -> dict[tuple[int, str], str]:
    """(delivery id, lease token) -> its last state in the file: sent, ok or no."""
    found: dict[tuple[int, str], str] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("sent", "ok", "no") and parts[1].isdigit():
            found[(int(parts[1]), parts[2])] = parts[0]
    return found  # a line cut short by the kill has no token and is skipped


def recover(factory: sessionmaker[Session], directory: Path,
            alive: Callable[[int], bool]) -> int:
    """Record as delivered what the journals of stopped runs say the next hop took (when
    the delivery is still leased to that run), delete those journals; return how many."""
    if not directory.is_dir():
        return 0
    done = 0
    paths = [p for p in sorted(directory.glob("*.log"), key=_order)
             if p.name.split(".", 1)[0].isdigit()]
    paths = [p for p in paths if int(p.name.split(".", 1)[0]) == os.getpid()
             or not alive(int(p.name.split(".", 1)[0]))]
    entries: dict[tuple[int, str], str] = {}
    for path in paths:  # oldest generation first, so a later answer wins
        entries.update(_entries(path))
    taken = {key: state for key, state in entries.items() if state != "no"}
    if taken:
        done = _apply(factory, taken)
    for path in paths:
        path.unlink(missing_ok=True)
    if done:
        log.info("mail: %d deliveries the next hop took just before a stop were recorded "
                 "as delivered (not sent again)", done)
    return done


def settle_stopped(factory: sessionmaker[Session], directory: Path | None, host: str,
                   alive: Callable[[int], bool]) -> None:
    """What stopped delivery processes on ``host`` left: their journals replayed (first: it
    needs their lease tokens), then their leases freed so the rest goes out at once."""
    if directory is not None:
        recover(factory, directory, alive)
    freed = queue.release_dead(factory, host, alive)
    if freed:
        log.info("mail: %d deliveries a stopped run had in hand go out again", freed)


def _order(path: Path) -> tuple[int, int]:
    pid, _, rest = path.name.partition(".")
    gen = rest.partition(".")[0]
    return (int(pid) if pid.isdigit() else -1, int(gen) if gen.isdigit() else -1)


ASSUMED = ("the whole message went to the next hop, then Roost stopped before reading its "
           "answer; recorded as delivered, not sent again")


def _apply(factory: sessionmaker[Session], entries: dict[tuple[int, str], str]) -> int:
    done = 0
    with writes.writing(factory) as session:
        rows = session.execute(
            select(MailDelivery, MailMessage.domain, MailDomain.webhook_url)
            .join(MailMessage, MailMessage.id == MailDelivery.message_pk)
            .outerjoin(MailDomain, MailDomain.domain == MailMessage.domain)
            .where(MailDelivery.id.in_({ident for ident, _ in entries}),
                   MailDelivery.status == "sending"))
        for row, domain, webhook_url in rows.all():
            token = row.lease_owner or ""
            state = entries.get((row.id, token))
            if state is None:  # leased again since: that later attempt decides
                continue
            job = Job(row.id, row.message_pk, row.app, row.recipient, row.attempts,
                      row.created_at, token)
            outcome = Outcome("delivered", 250, "250 accepted by the next hop (recorded "
                              "from the journal after a restart)") if state == "ok" else \
                Outcome("delivered", 0, ASSUMED)
            if state != "ok":
                log.warning("mail: delivery %s to %s: %s", row.id, row.recipient, ASSUMED)
            if outcomes.finish(session, job, outcome, domain=domain, webhook=bool(webhook_url)):
                done += 1
    return done
