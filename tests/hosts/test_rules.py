"""What the user types is checked before anything connects; alert rules; batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roost.errors import InvalidInput
from roost.hosts import batches, checks, keys
from roost.hosts.target import check_name, check_roles, parse_url


def test_ssh_urls() -> None:
    target = parse_url("ssh://deploy@10.0.0.5:2222")
    assert (target.user, target.address, target.port) == ("deploy", "10.0.0.5", 2222)
    assert parse_url("ssh://root@db1.example.com").url == "ssh://root@db1.example.com"


@pytest.mark.parametrize("bad", ["10.0.0.5", "http://root@h", "ssh://h", "ssh://root@",
                                 "ssh://root:pw@h", "ssh://root@h:99999", "ssh://root@h/x",
                                 "ssh://ro ot@h", "ssh://root@h;rm"])
def test_bad_urls_say_how_to_write_one(bad: str) -> None:
    with pytest.raises(InvalidInput, match="ssh://USER@HOST"):
        parse_url(bad)


def test_names_roles_and_fingerprints() -> None:
    assert check_name("web-1") == "web-1"
    assert check_roles(["app", "db", "app"]) == ["app", "db"]
    for bad in ("Web1", "-x", "a" * 64, "a.b"):
        with pytest.raises(InvalidInput, match="host name"):
            check_name(bad)
    with pytest.raises(InvalidInput, match="role 'all'"):
        check_roles(["all"])
    with pytest.raises(InvalidInput, match="SHA-256 fingerprint"):
        keys.check_fingerprint("MD5:aa:bb")
    with pytest.raises(InvalidInput, match="not an SSH private key"):
        keys.check_private_key("hello")


def test_batches_and_failure_limits() -> None:
    names = [f"h{i}" for i in range(10)]
    assert [len(b) for b in batches.split(names, "25%")] == [3, 3, 3, 1]
    assert [len(b) for b in batches.split(names, "4")] == [4, 4, 2]
    assert batches.failure_limit("10%", 10) == 1
    assert batches.failure_limit("10%", 4) == 0
    for bad in ("0", "x", "150%", "-1"):
        with pytest.raises(InvalidInput, match="--batch"):
            batches.split(names, bad)


NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_a_full_disk_alerts_at_once_and_once_per_episode() -> None:
    facts = {"disks": [{"mount": "/", "percent": 95.0}]}
    kept, due = checks.evaluate("web1", {}, facts, True, 0, "", NOW)
    assert [a.kind for a in due] == ["disk"] and not due[0].urgent
    assert "/ 95% full" in due[0].body
    _, again = checks.evaluate("web1", kept, facts, True, 0, "", NOW + timedelta(minutes=5))
    assert again[0].since == due[0].since  # same episode: the outbox key repeats
    cleared, none = checks.evaluate("web1", kept, {"disks": []}, True, 0, "", NOW)
    assert cleared == {} and none == []


def test_unreachable_pages_after_two_checks() -> None:
    _, first = checks.evaluate("web1", {}, None, False, 1, "timed out", NOW)
    assert first == []
    _, second = checks.evaluate("web1", {}, None, False, 2, "timed out", NOW)
    assert [a.kind for a in second] == ["unreachable"] and second[0].urgent
    assert "timed out" in second[0].body


def test_reboot_and_security_updates_wait_their_grace() -> None:
    facts = {"reboot_required": True, "security_updates": ["openssl"]}
    kept, due = checks.evaluate("web1", {}, facts, True, 0, "", NOW)
    assert due == [] and set(kept) == {"reboot", "security"}
    _, later = checks.evaluate("web1", kept, facts, True, 0, "", NOW + timedelta(days=4))
    assert [a.kind for a in later] == ["security"]
    _, week = checks.evaluate("web1", kept, facts, True, 0, "", NOW + timedelta(days=8))
    assert sorted(a.kind for a in week) == ["reboot", "security"]


def test_swarm_roles_join_as_worker_or_manager_and_share_one_recipe() -> None:
    from roost.hosts import recipebook

    assert recipebook.swarm_membership(["app"]) is None
    assert recipebook.swarm_membership(["docker-node"]) is False
    assert recipebook.swarm_membership(["docker-node", "docker-manager"]) is True
    order = [p.rpartition("/")[2] for p in
             recipebook.recipe_order(["docker-manager", "docker-node"], None)]
    assert order == ["base.py", "docker-node.py"]
    assert recipebook.ROLE_PORTS["docker-manager"]["tcp"] == [2377, 7946]


def test_the_engines_cpu_weight_is_read_as_systemctl_shows_it() -> None:
    """The docker-node recipe sets the engine units' CPUWeight only where it differs: the
    fact reads `systemctl show`'s lines (a unit on its default says "[not set]")."""
    from roost.hosts.facts import UnitCpuWeight

    fact = UnitCpuWeight()
    assert fact.process(["LoadState=loaded", "CPUWeight=[not set]"]) == \
        {"loaded": True, "weight": None}
    assert fact.process(["CPUWeight=10", "LoadState=loaded"]) == {"loaded": True, "weight": 10}
    assert fact.process(["LoadState=not-found", "CPUWeight=[not set]"])["loaded"] is False
    assert "'docker.service'" not in fact.command("docker.service")  # quoted only if needed


def test_a_host_without_systemd_has_no_engine_units_to_weigh() -> None:
    """Read through pyinfra on this machine (its init is not systemd): no output, and the
    recipe sees an unloaded unit rather than failing."""
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all

    from roost.hosts.facts import SystemdRunning, UnitCpuWeight

    inventory = Inventory((["@local"], {}))
    connect_all(State(inventory, Config()))
    host = inventory.get_host("@local")
    if host.get_fact(SystemdRunning):
        pytest.skip("this machine runs systemd")
    assert host.get_fact(UnitCpuWeight, unit="docker.service") == \
        {"loaded": False, "weight": None}
