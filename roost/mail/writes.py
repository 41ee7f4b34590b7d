"""One writer at a time on SQLite, queued in the process rather than in SQLite.

SQLite lets one transaction write at a time and makes the others wait by sleeping and
retrying (up to 100 ms a sleep), which under the mail load (ten submitting clients and the
delivery workers) costs more than the writes themselves. Mail's writes take this lock
first, so a waiting writer wakes the moment the previous one commits. PostgreSQL locks
rows, so there the lock is not taken.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from roost.store.session import transaction

LOCK = threading.RLock()


def serialised(factory: sessionmaker[Session]) -> bool:
    """Whether writes through ``factory`` go one at a time (SQLite)."""
    bind = factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


@contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction, holding the process's write lock on SQLite."""
    if not serialised(factory):
        with transaction(factory) as session:
            yield session
        return
    with LOCK, transaction(factory) as session:
        yield session
