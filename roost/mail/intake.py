"""Group commit for accepted mail: callers hand their submission to one writer thread, which
stores whatever has queued up in one transaction and only then answers each of them.

Committing each message on its own costs a transaction (and, with SQLite, the single write
lock and several hand-overs of the GIL) per message; under ten concurrent senders that, not
the writes themselves, was the time a message took to accept. A caller still hears its
Message-ID only after the transaction holding its message has committed, so nothing
answered is lost, and a refused submission (bad sender, too many recipients…) is refused
before anything is written, alone.
"""

from __future__ import annotations

import asyncio
import logging
import queue as queues
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from roost.mail import queue, writes
from roost.mail.queue import Prepared, Refused, Submission

log = logging.getLogger("roost.mail")
MAX_GROUP = 256  # submissions per transaction
MAX_GROUP_BYTES = 64 * 1024 * 1024
MAX_GROUP_RECIPIENTS = 5000  # keeps the suppression lookup's IN list well within limits


@dataclass
class _Item:
    sub: Submission
    webhook: bool
    future: Future[str]


class Intake:
    """One writer thread that commits accepted submissions in groups."""

    def __init__(self, sessions: sessionmaker[Session],
                 on_commit: Callable[[], None] | None = None) -> None:
        self.sessions, self.on_commit = sessions, on_commit
        self.pending: queues.SimpleQueue[_Item | None] = queues.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.closed = False

    def submit(self, sub: Submission, webhook: bool = False) -> Future[str]:
        """Queue ``sub``; the future gives its Message-ID once committed, or ``Refused``."""
        future: Future[str] = Future()
        with self.lock:
            if self.closed:
                raise RuntimeError("the mail intake is closed")
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="roost-mail-intake",
                                               daemon=True)
                self.thread.start()
            self.pending.put(_Item(sub, webhook, future))
        return future

    async def accept(self, sub: Submission, webhook: bool = False) -> str:
        """Queue ``sub`` and wait for its commit; its Message-ID (or ``Refused``)."""
        return await asyncio.wrap_future(self.submit(sub, webhook))

    def accept_sync(self, sub: Submission, webhook: bool = False, timeout: float = 60.0
                    ) -> str:
        """``accept`` for a thread."""
        return self.submit(sub, webhook).result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self.lock:
            self.closed = True
            thread = self.thread
        if thread is not None:
            self.pending.put(None)
            thread.join(timeout=60)

    def _group(self, first: _Item) -> tuple[list[_Item], bool]:
        """``first`` and whatever else is waiting, within the group's limits; and whether
        the stop marker came up."""
        group, size = [first], len(first.sub.raw)
        rcpts = len(first.sub.recipients)
        while len(group) < MAX_GROUP and size < MAX_GROUP_BYTES and \
                rcpts < MAX_GROUP_RECIPIENTS:
            try:
                item = self.pending.get_nowait()
            except queues.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
            size += len(item.sub.raw)
            rcpts += len(item.sub.recipients)
        return group, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self.pending.get()
            if first is None:
                return
            group, stop = self._group(first)
            self._commit(group)

    def _commit(self, group: list[_Item]) -> None:
        ready: list[tuple[_Item, Prepared]] = []
        for item in group:
            if not item.future.set_running_or_notify_cancel():
                continue
            try:
                ready.append((item, queue.prepare(item.sub, webhook=item.webhook)))
            except Refused as exc:
                item.future.set_exception(exc)
            except Exception as exc:  # a malformed message must not fail its group
                item.future.set_exception(exc)
        if not ready:
            return
        try:
            with writes.writing(self.sessions) as session:
                queue.store(session, [p for _, p in ready])
        except Exception as exc:
            if len(ready) > 1:  # find the one that fails; the others still go in
                log.warning("storing %d messages together failed (%s); storing them one by "
                            "one", len(ready), exc)
                for item, prepared in ready:
                    self._alone(item, prepared)
            else:
                ready[0][0].future.set_exception(exc)
        else:
            for item, prepared in ready:
                item.future.set_result(prepared.message_id)
        if self.on_commit is not None:
            self.on_commit()

    def _alone(self, item: _Item, prepared: Prepared) -> None:
        try:
            with writes.writing(self.sessions) as session:
                queue.store(session, [prepared])
        except Exception as exc:
            item.future.set_exception(exc)
        else:
            item.future.set_result(prepared.message_id)
