"""One writer at a time on SQLite, queued by the kernel rather than in SQLite.

SQLite lets one transaction write at a time and makes the others wait by sleeping and
retrying (up to 100 ms a sleep), which under the mail load (ten submitting clients and the
delivery workers) costs more than the writes themselves. Mail's writes take this lock
first, so a waiting writer wakes the moment the previous one commits: a lock of the
process's threads, then an ``flock`` on a file beside the database, which the delivery
processes (``roost.mail.deliveryproc``) take too. PostgreSQL locks rows, so there neither
lock is taken.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from roost.store.session import transaction

LOCK = threading.RLock()
_files: dict[str, int] = {}  # database path -> descriptor of its lock file
_depth = 0  # writing() calls open in the thread holding LOCK


def serialised(factory: sessionmaker[Session]) -> bool:
    """Whether writes through ``factory`` go one at a time (SQLite)."""
    bind = factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


def _lock_file(factory: sessionmaker[Session]) -> int | None:
    """The descriptor of the lock file of the SQLite database (None: in memory)."""
    database = factory.kw["bind"].url.database
    if not database or database == ":memory:":
        return None
    fd = _files.get(database)
    if fd is None:
        fd = _files[database] = os.open(f"{database}.mail-writes.lock",
                                        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return fd


@contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction, holding the write lock of every process on SQLite."""
    global _depth
    if not serialised(factory):
        with transaction(factory) as session:
            yield session
        return
    with LOCK:
        fd = _lock_file(factory) if _depth == 0 else None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        _depth += 1
        try:
            with transaction(factory) as session:
                yield session
        finally:
            _depth -= 1
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
