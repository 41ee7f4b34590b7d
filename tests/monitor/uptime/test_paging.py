"""End to end: a real target goes down and up; pages reach the SMS provider's endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.uptime import incidents
from roost.store.models.notify import OutboxMessage
from roost.store.session import transaction
from tests.conftest import wait_for
from tests.monitor.uptime.conftest import (
    TIMEOUT,
    People,
    Running,
    add_monitor,
    person,
    wait_checks,
)
from tests.monitor.uptime.target import Target
from tests.notify.receivers import Receiver


def _incidents(factory: sessionmaker[Session], **kw: object) -> list[incidents.IncidentView]:
    with transaction(factory) as s:
        return incidents.list_incidents(s, **kw)  # type: ignore[arg-type]


def test_down_pages_each_maintainer_once_and_recovery_once(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    a, b = person(1), person(2, notify_urls=[receiver.json_url("b")])
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [a, b]}))
    wait_checks(factory, mid, 3)
    assert receiver.sms == []

    target.stop()
    stopped = time.monotonic()
    wait_for(lambda: receiver.to(a.phone) and receiver.to(b.phone), timeout=TIMEOUT)
    assert time.monotonic() - stopped <= TIMEOUT
    body = receiver.to(a.phone)[0]
    assert "DOWN shop" in body and "connection refused" in body and len(body) <= 160
    opened = _incidents(factory, open_only=True)
    assert len(opened) == 1 and f"ack {opened[0].id}" in body
    assert opened[0].evidence["error"] == "connection refused"
    wait_for(lambda: [p for p in receiver.json_posts if p["path"] == "/b"], timeout=TIMEOUT)

    target.start()
    wait_for(lambda: len(receiver.to(a.phone)) == 2 and len(receiver.to(b.phone)) == 2,
             timeout=TIMEOUT)
    assert receiver.to(a.phone)[1].startswith("UP shop")
    wait_checks(factory, mid, 5)
    assert len(receiver.to(a.phone)) == 2 and len(receiver.to(b.phone)) == 2
    assert len([p for p in receiver.json_posts if p["path"] == "/b"]) == 2
    assert _incidents(factory, open_only=True) == []


def test_single_failed_check_pages_nobody(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [person(1)]}))
    wait_checks(factory, mid, 2)
    target.fail_next = 1
    wait_for(lambda: target.fail_next == 0)
    wait_checks(factory, mid, 6)
    assert receiver.attempts == []
    assert _incidents(factory, include_unconfirmed=True) == []


def test_flapping_target_sends_one_notice_and_no_pages(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    a = person(1)
    target.alternate = True
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [a]}))
    wait_for(lambda: receiver.to(a.phone), timeout=TIMEOUT)
    wait_checks(factory, mid, 12)
    bodies = receiver.to(a.phone)
    assert len(bodies) == 1 and bodies[0].startswith("FLAPPING shop")


def test_provider_failing_for_a_while_then_page_arrives_once(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    a = person(1)
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [a]}))
    wait_checks(factory, mid, 2)
    receiver.fail_until = time.monotonic() + 3600
    target.stop()
    wait_for(lambda: len(receiver.attempts) >= 3, timeout=TIMEOUT)
    assert receiver.sms == []
    receiver.fail_until = 0.0
    wait_for(lambda: receiver.to(a.phone), timeout=TIMEOUT)
    wait_checks(factory, mid, 5)
    assert len(receiver.to(a.phone)) == 1
    with transaction(factory) as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "down")).one()
        assert row.status == "sent" and row.attempts >= 4
        assert row.provider_answer and row.provider_answer.startswith("twilio 201 sid=SM")


def test_ack_stops_reminders(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    from roost.notify.paging import PagingPolicy

    a = person(1)
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [a]}),
                paging=PagingPolicy(reminder_s=0.5, escalate_after_s=3600, merge_delay_s=0.0))
    wait_checks(factory, mid, 2)
    target.stop()
    wait_for(lambda: any(b.startswith("STILL DOWN") for b in receiver.to(a.phone)),
             timeout=TIMEOUT)
    [incident] = _incidents(factory, open_only=True)
    with transaction(factory) as s:
        incidents.ack(s, incident.id, "ada")
    settled = len(receiver.to(a.phone))
    wait_checks(factory, mid, 8)  # 2.4 s: several reminder periods
    assert len(receiver.to(a.phone)) <= settled + 1  # one may have been queued before ack
    wait_checks(factory, mid, 8)
    after = len(receiver.to(a.phone))
    wait_checks(factory, mid, 8)
    assert len(receiver.to(a.phone)) == after


def test_escalation_to_oncall_when_nobody_acks(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    from roost.notify.paging import PagingPolicy

    a, boss = person(1), person(9, app="oncall")
    mid = add_monitor(factory, "shop", target.url)
    run_service(People(by_app={"shop": [a]}, oncall=[boss]),
                paging=PagingPolicy(reminder_s=3600, escalate_after_s=0.5, merge_delay_s=0.0))
    wait_checks(factory, mid, 2)
    target.stop()
    wait_for(lambda: receiver.to(boss.phone), timeout=TIMEOUT)
    assert receiver.to(boss.phone)[0].startswith("ESCALATED shop")
    wait_checks(factory, mid, 5)
    assert len(receiver.to(boss.phone)) == 1 and len(receiver.to(a.phone)) == 1


def test_maintenance_suppresses_pages_not_checks(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running],
) -> None:
    a = person(1)
    mid = add_monitor(factory, "shop", target.url)
    with transaction(factory) as s:
        window = incidents.add_maintenance(s, "shop", duration_s=600, reason="db upgrade")
    run_service(People(by_app={"shop": [a]}))
    wait_checks(factory, mid, 2)
    target.stop()
    wait_for(lambda: [i for i in _incidents(factory, open_only=True) if i.suppressed],
             timeout=TIMEOUT)
    wait_checks(factory, mid, 6)
    assert receiver.attempts == []
    with transaction(factory) as s:
        incidents.remove_maintenance(s, window.id)
    wait_for(lambda: receiver.to(a.phone), timeout=TIMEOUT)  # still down: now it pages


def test_simultaneous_outages_merge_into_one_message(
    factory: sessionmaker[Session], receiver: Receiver, run_service: Callable[..., Running],
) -> None:
    from roost.notify.paging import PagingPolicy

    shop, blog = Target().start(), Target().start()
    try:
        a = person(1)
        m1 = add_monitor(factory, "shop", shop.url)
        add_monitor(factory, "blog", blog.url)
        run_service(People(by_app={"shop": [a], "blog": [a]}),
                    paging=PagingPolicy(reminder_s=3600, escalate_after_s=3600,
                                        merge_delay_s=1.5))
        wait_checks(factory, m1, 2)
        shop.stop()
        blog.stop()
        wait_for(lambda: receiver.to(a.phone), timeout=TIMEOUT)
        wait_checks(factory, m1, 5)
        bodies = receiver.to(a.phone)
        assert len(bodies) == 1, bodies
        body = bodies[0]
        assert "DOWN shop" in body and "DOWN blog" in body
    finally:
        shop.stop()
        blog.stop()


def test_heartbeat_url_is_pinged(
    target: Target, run_service: Callable[..., Running],
) -> None:
    running = run_service(People(), heartbeat_url=target.url, heartbeat_s=0.1)
    wait_for(lambda: target.requests >= 3, timeout=10)
    assert running.service is not None and running.service.last_heartbeat_ok is not None
