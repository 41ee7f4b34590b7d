"""The queue on its own, on SQLite and PostgreSQL: a worker that dies mid-send leaves a lease
that expires and the delivery is tried again; temporary failures back off and give up after
3 days; rate limits defer without counting an attempt; DKIM signatures match dkimpy's own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import dkim as dkimpy
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import sessionmaker

from roost.core.secrets import Cipher
from roost.mail import bounces, dkim, domains, outcomes, queue, writes
from roost.mail.outcomes import Outcome
from roost.mail.queue import Submission
from roost.mail.ratelimit import Buckets
from roost.mail.recorder import Result
from roost.store.base import utcnow
from roost.store.models.mail import MailDelivery, MailEvent, MailMessage, MailSuppression
from roost.store.session import make_sessionmaker, transaction
from tests.conftest import engine_with_tables, new_pg_database, wait_for

DOMAIN = "mail.shop.test"
RAW = f"From: orders@{DOMAIN}\r\nTo: ann@example.org\r\nSubject: hi\r\n\r\nhello\r\n".encode()


def submit(sessions: sessionmaker, *rcpts: str) -> str:  # type: ignore[type-arg]
    with transaction(sessions) as session:
        return queue.accept(session, Submission("shop", DOMAIN, f"orders@{DOMAIN}",
                                                list(rcpts), RAW, "api"))


def test_an_expired_lease_is_claimed_again_and_a_stale_worker_cannot_finish(
        engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    submit(sessions, "ann@example.org")
    now = utcnow()
    first = queue.claim(sessions, "dead-worker", lease_s=60, now=now)
    assert len(first) == 1
    assert queue.claim(sessions, "other", lease_s=60, now=now + timedelta(seconds=30)) == []
    again = queue.claim(sessions, "other", lease_s=60, now=now + timedelta(seconds=61))
    assert [j.id for j in again] == [first[0].id] and again[0].attempts == 2
    with transaction(sessions) as session:  # the first worker comes back too late
        assert not outcomes.finish(session, first[0], Outcome("delivered", 250), domain=DOMAIN,
                                webhook=False)
        assert outcomes.finish(session, again[0], Outcome("delivered", 250), domain=DOMAIN,
                            webhook=False)
    with sessions() as session:
        assert session.scalar(select(MailDelivery.status)) == "delivered"
        delivered = session.scalars(select(MailEvent).where(MailEvent.event == "delivered"))
        assert len(list(delivered)) == 1


def test_a_bounce_stored_before_the_delivery_outcome_is_not_undone_by_it(
        engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    submit(sessions, "ann@example.org")
    job = queue.claim(sessions, "w", lease_s=60)[0]
    # The relay took the message and bounced it at once; the bounce reached the return path
    # (bounces.apply marks the delivery failed) before the worker stored its "delivered".
    with transaction(sessions) as session:
        session.get(MailDelivery, job.id).status = "failed"  # type: ignore[union-attr]
    with transaction(sessions) as session:
        assert not outcomes.finish(session, job, Outcome("delivered", 250), domain=DOMAIN,
                                webhook=False)
    with sessions() as session:
        assert session.scalar(select(MailDelivery.status)) == "failed"
        assert not list(session.scalars(select(MailEvent).where(MailEvent.event == "delivered")))


def test_a_group_of_outcomes_keeps_only_the_deliveries_still_held(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    submit(sessions, "ann@example.org", "bob@example.org", "cy@example.org", "di@example.org")
    now = utcnow()
    ann, bob, cy, di = queue.claim(sessions, "w", lease_s=60, now=now)
    with transaction(sessions) as session:  # a bounce settled bob's before its outcome
        session.get(MailDelivery, bob.id).status = "failed"  # type: ignore[union-attr]
    stale = queue.Job(di.id, di.message_pk, di.app, di.recipient, di.attempts, di.created_at,
                      "someone-else")  # a worker whose lease was taken over
    header = "DKIM-Signature: v=1; d=mail.shop.test"
    group = [Result(ann, Outcome("delivered", 250, "250 ok"), DOMAIN, "<1@x>", False, header),
             Result(bob, Outcome("delivered", 250), DOMAIN, "<1@x>", False, header),
             Result(cy, Outcome("temporary", 451, "451 later"), DOMAIN, "<1@x>", False),
             Result(stale, Outcome("delivered", 250), DOMAIN, "<1@x>", False)]
    with transaction(sessions) as session:
        assert outcomes.finish_many(session, group) == [True, False, True, False]
    with sessions() as session:
        status = dict(session.execute(select(MailDelivery.recipient, MailDelivery.status)).all())
        assert status == {"ann@example.org": "delivered", "bob@example.org": "failed",
                          "cy@example.org": "queued", "di@example.org": "sending"}
        events = sorted((e.recipient, e.event, e.detail) for e in session.scalars(
            select(MailEvent).where(MailEvent.event != "accepted")))
        assert events == [("ann@example.org", "delivered", "250 ok"),
                          ("cy@example.org", "failed", "451 later")]
        assert session.get(MailMessage, ann.message_pk).dkim_header == header  # type: ignore[union-attr]


def test_temporary_failures_back_off_then_give_up_after_three_days(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    submit(sessions, "busy@example.org")
    now = utcnow()
    job = queue.claim(sessions, "w", lease_s=60, now=now)[0]
    with transaction(sessions) as session:
        outcomes.finish(session, job, Outcome("temporary", 451, "451 try later"), domain=DOMAIN,
                     webhook=False, now=now)
    assert queue.claim(sessions, "w", lease_s=60, now=now + timedelta(seconds=59)) == []
    job = queue.claim(sessions, "w", lease_s=60, now=now + timedelta(seconds=61))[0]
    late = job.created_at + outcomes.GIVE_UP
    with transaction(sessions) as session:
        outcomes.finish(session, job, Outcome("temporary", 451, "451 try later"), domain=DOMAIN,
                     webhook=False, now=late)
    with sessions() as session:
        assert session.scalar(select(MailDelivery.status)) == "failed"
        reasons = [(e.severity, e.reason) for e in session.scalars(
            select(MailEvent).where(MailEvent.event == "failed").order_by(MailEvent.id))]
        assert reasons == [("temporary", ""), ("permanent", "old")]
        # A temporary failure never suppresses the address.
        assert session.scalar(select(MailSuppression)) is None


def test_deferral_by_rate_limit_does_not_count_as_an_attempt(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    submit(sessions, "ann@example.org")
    now = utcnow()
    job = queue.claim(sessions, "w", lease_s=60, now=now)[0]
    with transaction(sessions) as session:
        outcomes.finish(session, job, Outcome("deferred", delay=2.0), domain=DOMAIN,
                     webhook=False, now=now)
    with sessions() as session:
        row = session.scalar(select(MailDelivery))
        assert row is not None and row.status == "queued" and row.attempts == 0
        assert session.scalar(select(MailEvent).where(MailEvent.event != "accepted")) is None
    assert queue.claim(sessions, "w", lease_s=60, now=now + timedelta(seconds=1)) == []
    assert queue.claim(sessions, "w", lease_s=60, now=now + timedelta(seconds=3))


def test_buckets_grant_the_rate_and_say_how_long_to_wait() -> None:
    buckets = Buckets(rate=2.0)
    assert buckets.take("shop", now=100.0) == 0.0
    assert buckets.take("shop", now=100.0) == 0.0
    assert buckets.take("shop", now=100.0) == 0.5
    assert buckets.take("other", now=100.0) == 0.0
    assert buckets.take("shop", now=100.5) == 0.0


def test_openssl_signatures_are_dkimpys_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dkimpy.time, "time", lambda: 1_796_000_000.0)  # one t= for both
    key = dkim.new_key()
    message = dkim.canonical(RAW)
    fast = dkim.sign(message, DOMAIN, "s1", key)
    original = dkimpy.RSASSA_PKCS1_v1_5_sign
    try:
        dkimpy.RSASSA_PKCS1_v1_5_sign = dkim._pure_sign
        pure = dkim.sign(message, DOMAIN, "s1", key)
    finally:
        dkimpy.RSASSA_PKCS1_v1_5_sign = original
    assert fast == pure
    record = {f"s1._domainkey.{DOMAIN}": dkim.public_record(key)}
    assert dkim.verify(fast + message, record)


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL database (where mail writes run side by side)."""
    url, drop = new_pg_database()
    try:
        yield from engine_with_tables(url)
    finally:
        drop()


def test_an_outcome_stored_while_a_bounce_is_being_stored_waits_and_then_yields(
        pg_engine: Engine) -> None:
    """The relay bounced at once: the bounce is being stored at the return path just as the
    worker stores "delivered" (on PostgreSQL the two run side by side). The outcome waits for
    the bounce, finds the delivery settled and stores nothing, so the log never shows the
    delivery delivered after it bounced (a clean-clone CI run caught that order)."""
    sessions = make_sessionmaker(pg_engine)
    cipher = Cipher(Fernet.generate_key())
    with transaction(sessions) as session:
        creds = domains.create(session, cipher, "shop", DOMAIN)
    submit(sessions, "ann@example.org")
    job = queue.claim(sessions, "w", lease_s=60)[0]
    stored: list[bool] = []
    started = threading.Event()

    def store_outcome() -> None:
        with writes.writing(sessions) as session:
            stored.append(outcomes.finish(session, job, Outcome("delivered", 250),
                                       domain=DOMAIN, webhook=False))

    def waiting_on_a_lock() -> bool:
        with pg_engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")))

    def outcome_arrives(conn: object, cursor: object, statement: str, *_: object) -> None:
        # The bounce has read its delivery and is about to write the event: the worker's
        # outcome comes now, and must wait (with the bounce's row lock) rather than land.
        if statement.startswith("INSERT INTO mail_events") and not started.is_set():
            started.set()
            worker = threading.Thread(target=store_outcome)
            worker.start()
            wait_for(lambda: stored or waiting_on_a_lock(), timeout=20)

    report = bounces.Report("bounce", "ann@example.org", "5.1.1", "550 5.1.1 mailbox gone")
    local = domains.return_path(domains.Sender("shop", DOMAIN, "", b"", creds.signing_key, ""),
                                job.id).split("@")[0]
    event.listen(pg_engine, "before_cursor_execute", outcome_arrives)
    try:
        with writes.writing(sessions) as session:
            row = domains.by_bounce_domain(session, f"bounce.{DOMAIN}")
            assert row is not None
            assert bounces.apply(session, row, local, report, creds.signing_key) == \
                "recorded a bounce of ann@example.org"
    finally:
        event.remove(pg_engine, "before_cursor_execute", outcome_arrives)
    wait_for(lambda: stored, timeout=20)
    assert stored == [False]
    with sessions() as session:
        assert session.scalar(select(MailDelivery.status)) == "failed"
        logged = session.scalars(select(MailEvent.event).order_by(MailEvent.id)).all()
        assert logged == ["accepted", "bounced"]
