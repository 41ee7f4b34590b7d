"""Accepting in groups and delivering once, on SQLite and PostgreSQL: concurrent
submissions all end up queued (a refused one alone is refused); a run killed after the
relay took a message but before the store heard of it does not send it again after the
restart, while what it had not sent goes out."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.mail import domains, journal, queue
from roost.mail.deliver import Relay
from roost.mail.intake import Intake
from roost.mail.queue import Refused, Submission
from roost.mail.recorder import Result
from roost.mail.worker import Deliverer, Limits
from roost.store.models.mail import MailDelivery, MailEvent, MailMessage
from roost.store.session import make_sessionmaker, transaction
from tests.mail.servers import Sink

DOMAIN = "mail.shop.test"


def raw(n: int, sender: str = f"orders@{DOMAIN}") -> bytes:
    return (f"From: {sender}\r\nTo: user{n}@example.org\r\nSubject: receipt {n}\r\n"
            f"Message-ID: <m{n}@{DOMAIN}>\r\n\r\nthanks\r\n").encode()


def sub(n: int, sender: str = f"orders@{DOMAIN}") -> Submission:
    return Submission("shop", DOMAIN, sender, [f"user{n}@example.org"], raw(n, sender),
                      "smtp")


def test_concurrent_submissions_are_queued_together_and_a_bad_one_alone_is_refused(
        engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    commits: list[int] = []
    intake = Intake(sessions, on_commit=lambda: commits.append(1))
    try:
        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(intake.accept_sync, sub(n)) for n in range(200)]
            bad = pool.submit(intake.accept_sync, sub(999, "mallory@elsewhere.test"))
            ids = [f.result(60) for f in futures]
            with pytest.raises(Refused, match="outside mail.shop.test"):
                bad.result(60)
    finally:
        intake.close()
    assert sorted(ids) == sorted(f"<m{n}@{DOMAIN}>" for n in range(200))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(MailMessage)) == 200
        queued = session.scalars(select(MailDelivery.recipient)
                                 .where(MailDelivery.status == "queued")).all()
        assert sorted(queued) == sorted(f"user{n}@example.org" for n in range(200))
        assert session.scalar(select(func.count()).select_from(MailEvent)
                              .where(MailEvent.event == "accepted")) == 200
    assert 1 <= len(commits) < 200  # grouped: fewer commits than messages


class _Killed:
    """A recorder that never stores anything: the process died before it could."""

    def put(self, result: Result) -> None:
        pass


def _deliverer(sessions: sessionmaker[Session], cipher: Cipher, sink: Sink,
               home: Path, owner: str) -> tuple[Deliverer, Relay]:
    relay = Relay(f"smtp://127.0.0.1:{sink.port}", "localhost")
    deliverer = Deliverer(sessions, cipher, lambda: relay, Limits(), owner=owner,
                          journal=journal.Journal(home))
    return deliverer, relay


def test_a_run_killed_between_the_relays_250_and_the_store_sends_nothing_twice(
        engine: Engine, tmp_path: Path, sink: Sink) -> None:
    sessions = make_sessionmaker(engine)
    cipher = Cipher(Fernet.generate_key())
    with transaction(sessions) as session:
        domains.create(session, cipher, "shop", DOMAIN)
        for n in range(3):
            queue.accept(session, sub(n))
    host = os.uname().nodename
    # The first run hands one message to the relay, then dies before storing the outcome.
    first, relay = _deliverer(sessions, cipher, sink, tmp_path / "journal", f"{host}:4000000")
    first.recorder = _Killed()  # type: ignore[assignment]
    first.batch = 1
    assert first.run_once(relay) == 1
    relay.close()
    assert first.journal is not None
    first.journal.close()
    assert len(sink.received) == 1

    # The restart: replay the journal, free the dead run's leases, deliver what is left.
    assert journal.recover(sessions, tmp_path / "journal", lambda pid: False) == 1
    queue.release_dead(sessions, host, lambda pid: False)
    second, relay = _deliverer(sessions, cipher, sink, tmp_path / "journal",
                               f"{host}:{os.getpid()}")
    while second.run_once(relay):
        pass
    relay.close()
    assert sorted(r.rcpt for r in sink.received) == [f"user{n}@example.org" for n in range(3)]
    with sessions() as session:
        assert set(session.scalars(select(MailDelivery.status))) == {"delivered"}
        assert session.scalar(select(func.count()).select_from(MailEvent)
                              .where(MailEvent.event == "delivered")) == 3
    # Only the second run's open journal file is left; the replayed one is gone.
    assert [p.name.split(".")[0] for p in (tmp_path / "journal").glob("*.log")] == \
        [str(os.getpid())]


def test_the_journal_decides_what_a_stopped_run_had_handed_over(
        engine: Engine, tmp_path: Path) -> None:
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        for n in range(4):
            queue.accept(session, sub(n))
    jobs = queue.claim(sessions, "h:1", lease_s=60)
    taken, assumed, refused, cut = sorted(jobs, key=lambda j: j.recipient)
    (tmp_path / "123.0.log").write_text(
        f"sent {taken.id} {taken.token}\nsent {assumed.id} {assumed.token}\n"
        f"sent {refused.id} {refused.token}\nok {taken.id} {taken.token}\n"
        f"no {refused.id} {refused.token}\nsent {cut.id} someone-else:x\nsent {cut.id}")
    assert journal.recover(sessions, tmp_path, lambda pid: False) == 2
    with sessions() as session:
        rows = {r.recipient: r for r in session.scalars(select(MailDelivery))}
        details = {e.recipient: e.detail for e in session.scalars(
            select(MailEvent).where(MailEvent.event == "delivered"))}
    assert rows[taken.recipient].status == rows[assumed.recipient].status == "delivered"
    assert "before reading its answer" in details[assumed.recipient]
    # Refused, or not in the journal under its lease: left to be tried again.
    assert rows[refused.recipient].status == rows[cut.recipient].status == "sending"
    assert not list(tmp_path.glob("*.log"))
