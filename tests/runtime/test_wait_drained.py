"""`wait_drained` returns once the old generation has stopped: a credential the old
generation used (a rotated database password) can be retired safely after it."""

from __future__ import annotations

from tests.runtime.conftest import Platform


def test_wait_drained_returns_after_the_old_generation_stopped(platform: Platform) -> None:
    sup = platform.supervisor
    sup.deploy(platform.spec("drained", 1, "socket"), {"web": 1}, ["drained.localhost"])
    old = list(sup.apps["drained"].procs.values())
    sup.deploy(platform.spec("drained", 2, "socket"), {"web": 1}, ["drained.localhost"])
    assert any(p.popen.poll() is None for p in old)  # deploy returns while it drains
    sup.wait_drained("drained")
    assert all(p.popen.poll() is not None for p in old)
    assert [p.state for p in old] == ["stopped"]
    sup.wait_drained("drained")  # nothing left to wait for
