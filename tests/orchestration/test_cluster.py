"""Control-plane instances and leases, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from roost.errors import ConfigError
from roost.orchestration.cluster import Membership
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models.cluster import Instance, Lease
from roost.store.session import transaction
from tests.conftest import wait_for


def member(platform: Platform, name: str, single_host: bool | None = None) -> Membership:
    """A membership of ``platform``'s store (SQLite: one host, unless told)."""
    if single_host is None:
        single_host = platform.engine.dialect.name == "sqlite"
    return Membership(platform.sessions, name=name, address=f"http://{name}:7700",
                      heartbeat_s=0.2, single_host=single_host)


def expire(platform: Platform, name: str) -> None:
    """Make ``name`` look dead: its heartbeat and leases long past."""
    past = utcnow() - timedelta(minutes=5)
    with transaction(platform.sessions) as session:
        session.execute(update(Instance).where(Instance.name == name)
                        .values(heartbeat_at=past))
        session.execute(update(Lease).where(Lease.holder == name).values(expires_at=past))


def test_run_once_work_runs_on_one_instance_and_moves_when_it_dies(
        platform: Platform) -> None:
    first, second = member(platform, "alpha", False), member(platform, "beta", False)
    first.join()
    second.join()
    assert first.holds("paging") and not second.holds("paging")
    assert second.holds("asset collection") and not first.holds("asset collection")
    first.heartbeat()
    view = {i.name: i for i in second.view()}
    assert view["alpha"].holds == ["paging"] and view["alpha"].live
    assert view["beta"].this and not view["alpha"].this

    expire(platform, "alpha")  # alpha stops beating (killed)
    wait_for(lambda: second.holds("paging"), timeout=10)  # asked again after a heartbeat
    assert not {i.name: i for i in second.view()}["alpha"].live
    second.leave()  # a clean stop frees the work at once
    first.heartbeat()  # alpha comes back (its row is rewritten by its own beat)
    wait_for(lambda: first.holds("paging"), timeout=10)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_serves_one_host_and_says_what_to_use(platform: Platform) -> None:
    member(platform, "alpha").join()
    with pytest.raises(ConfigError, match="SQLite, which serves one host.*PostgreSQL"):
        member(platform, "beta").join()
    with transaction(platform.sessions) as session:
        assert [i.name for i in session.query(Instance)] == ["alpha"]


def test_a_live_namesake_is_refused_and_a_crashed_one_replaced(platform: Platform) -> None:
    first = member(platform, "alpha", False)
    first.join()
    with transaction(platform.sessions) as session:
        row = session.get(Instance, "alpha")
        assert row is not None
        row.host = "elsewhere"  # the same name, alive on another host
    with pytest.raises(ConfigError, match="another roost up named alpha .* ROOST_INSTANCE_NAME"):
        member(platform, "alpha", False).join()
    with transaction(platform.sessions) as session:
        row = session.get(Instance, "alpha")
        assert row is not None
        row.host, row.pid = first.host, 2**22 + 1  # this host, a process that is gone
    again = member(platform, "alpha", False)
    again.join()
    assert {i.name: i.pid for i in again.view()}["alpha"] != 2**22 + 1


def test_swarm_tasks_learn_the_slug_server_of_every_live_instance(platform: Platform) -> None:
    first = Membership(platform.sessions, name="alpha", address="http://alpha:7700",
                       heartbeat_s=0.2, slug_address="10.0.0.1:7790")
    second = Membership(platform.sessions, name="beta", address="http://beta:7700",
                        heartbeat_s=0.2, slug_address="10.0.0.2:7790")
    plain = Membership(platform.sessions, name="gamma", address="http://gamma:7700",
                       heartbeat_s=0.2)  # not on a swarm: serves no slugs
    for one in (first, second, plain):
        one.join()
    assert second.slug_addresses() == ["10.0.0.2:7790", "10.0.0.1:7790"]  # its own first
    expire(platform, "alpha")  # alpha's host died: its address is no longer handed out
    assert second.slug_addresses() == ["10.0.0.2:7790"]
