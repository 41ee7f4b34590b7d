"""The outbox: idempotent enqueue, exclusive leases, crash between claim and send."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.notify import outbox
from roost.notify.channels import Deliverer
from roost.notify.recipients import Recipient
from roost.notify.worker import OutboxWorker, WorkerPolicy
from roost.store.models.notify import OutboxMessage
from roost.store.session import make_sessionmaker, transaction
from tests.conftest import wait_for
from tests.notify.receivers import Receiver

ROOT = Path(__file__).resolve().parents[2]
ADA = Recipient("m:1", "Ada", email="ada@example.com", phone="+15550100001")
BOB = Recipient("m:2", "Bob", phone="+15550100002")


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on a fresh store."""
    return make_sessionmaker(engine)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A Twilio-format receiver."""
    r = Receiver().start()
    yield r
    r.stop()


def _page(factory: sessionmaker[Session], who: Recipient, key: str = "incident:1") -> int:
    with transaction(factory) as s:
        return outbox.enqueue(s, f"{key}:{who.key}:down", who, "down", "DOWN shop",
                              "DOWN shop: HTTP 500", ["sms"])


def _rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with transaction(factory) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_enqueue_is_idempotent_per_key_channel_address(factory: sessionmaker[Session]) -> None:
    assert _page(factory, ADA) == 1
    assert _page(factory, ADA) == 0
    with transaction(factory) as s:
        assert outbox.enqueue(s, "k", ADA, "digest", "s", "b", ["email", "sms"]) == 2
    assert len(_rows(factory)) == 3


def test_enqueue_refuses_unknown_channel(factory: sessionmaker[Session]) -> None:
    with pytest.raises(InvalidInput, match="unknown channel 'pager'"), \
            transaction(factory) as s:
        outbox.enqueue(s, "k", ADA, "x", "s", "b", ["pager"])


def test_two_claimers_never_share_a_row(factory: sessionmaker[Session]) -> None:
    for n in range(20):
        _page(factory, ADA, key=f"incident:{n}")
    first = outbox.claim(factory, "w1", lease_s=60, limit=12)
    second = outbox.claim(factory, "w2", lease_s=60, limit=50)
    assert len(first) == 12 and len(second) == 8
    assert not {c.id for c in first} & {c.id for c in second}
    assert outbox.claim(factory, "w3", lease_s=60) == []


def test_expired_lease_is_claimed_again(factory: sessionmaker[Session]) -> None:
    from datetime import timedelta

    from roost.store.base import utcnow

    _page(factory, ADA)
    [held] = outbox.claim(factory, "w1", lease_s=5)
    assert outbox.claim(factory, "w2", lease_s=5) == []
    [again] = outbox.claim(factory, "w2", lease_s=5, now=utcnow() + timedelta(seconds=6))
    assert again.id == held.id and again.attempts == 2


def test_permanent_error_is_not_retried(
    factory: sessionmaker[Session], receiver: Receiver,
) -> None:
    bad = Recipient("m:9", "Nobody", phone="+15550109999")
    _page(factory, bad)
    receiver.fail_until, receiver.fail_status = float("inf"), 400

    async def go() -> None:
        deliverer = Deliverer(receiver.sms_url)
        worker = OutboxWorker(factory, deliverer, WorkerPolicy(backoff_base_s=0.01))
        await worker.run_once()
        await deliverer.aclose()

    asyncio.run(go())
    [row] = _rows(factory)
    assert row.status == "failed" and "400" in (row.last_error or "")
    assert len(receiver.attempts) == 1


def test_killed_between_claim_and_send_delivers_once_after_restart(
    db_url: str, factory: sessionmaker[Session], receiver: Receiver, tmp_path: Path,
) -> None:
    _page(factory, ADA)
    _page(factory, BOB)
    mark = tmp_path / "claimed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.notify.worker_main", db_url, receiver.sms_url]
    first = subprocess.Popen([*cmd, str(mark)], cwd=ROOT, env=env)
    try:
        wait_for(mark.exists, timeout=30)
        assert sorted(int(i) for i in mark.read_text().split(",")) == [
            r.id for r in _rows(factory)]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert receiver.attempts == []
    assert all(r.status == "sending" for r in _rows(factory))
    second = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        wait_for(lambda: all(r.status == "sent" for r in _rows(factory)), timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    assert receiver.to(ADA.phone) == ["DOWN shop: HTTP 500"]
    assert receiver.to(BOB.phone) == ["DOWN shop: HTTP 500"]
    assert len(receiver.attempts) == 2
