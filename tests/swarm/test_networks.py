"""App networks are claimed in the swarm itself: two control-plane hosts deploying new apps at
the same moment never put them on one network, and a removed app's network is not given to a
new app before its tasks can have drained."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from roost.runtime.swarm import networks
from tests.swarm.cluster import Cluster

GRACE = 5.0


@pytest.fixture
def hosts(cluster: Cluster) -> Iterator[tuple[Any, Any]]:
    """Two Docker clients of the manager, as two control-plane hosts have; the claims and
    cooling marks the test made are removed afterwards."""
    first, second = cluster.manager.client(), cluster.manager.client()
    networks.ensure_pool(first)
    before = {c.name for c in first.configs.list(filters={"label": networks.CLAIM_LABEL})}
    yield first, second
    for config in first.configs.list(filters={"label": networks.CLAIM_LABEL}):
        if config.name not in before:
            config.remove()


def test_two_hosts_never_give_two_new_apps_one_network(hosts: tuple[Any, Any]) -> None:
    first, second = hosts
    # One after the other, before either app has a service (both deploys still building).
    one, _ = networks.assign(first, "net-a", GRACE)
    two, _ = networks.assign(second, "net-b", GRACE)
    assert one != two
    assert networks.assign(second, "net-a", GRACE)[0] == one  # an app keeps its network

    # At the same instant, from two threads with a client each.
    start, got = threading.Barrier(2), {}

    def take(client: Any, app: str) -> None:
        start.wait(timeout=30)
        got[app] = networks.assign(client, app, GRACE)[0]

    threads = [threading.Thread(target=take, args=(c, a))
               for c, a in ((first, "net-c"), (second, "net-d"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(got) == {"net-c", "net-d"} and got["net-c"] != got["net-d"], got
    assert len({one, two, got["net-c"], got["net-d"]}) == 4


def test_a_removed_apps_network_waits_for_its_tasks_to_drain(hosts: tuple[Any, Any]) -> None:
    first, second = hosts
    old, _ = networks.assign(first, "net-old", GRACE)
    networks.release(first, "net-old")
    new, _ = networks.assign(second, "net-new", GRACE)
    assert new != old  # the old app's tasks may still be stopping on it

    # Once the grace period and the margin have passed (here: a grace that has), it is free.
    after, _ = networks.assign(second, "net-later", -networks.DRAIN_MARGIN)
    assert after == old
