"""Fixtures for host tests: an SSH key, test hosts (real sshd in namespaces), a platform."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import admin_client, in_ci
from tests.hosts import vmhosts
from tests.hosts.sshhosts import TestHost, usable
from tests.hosts.vmhosts import TestVm


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A private key file and its public line (authorized on every test host)."""
    path = tmp_path_factory.mktemp("sshkey") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "roost-test", "-f",
                    str(path)], check=True)
    return path, path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def make_host(ssh_key: tuple[Path, str]) -> Iterator[Callable[..., TestHost]]:
    """Start test hosts for one test; all are destroyed after it."""
    why = usable()
    if why:
        if in_ci():
            pytest.fail(f"{why}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(why)
    started: list[TestHost] = []

    def make(disk: str = "256m", authorized: str | None = None) -> TestHost:
        host = TestHost(disk=disk)
        started.append(host)
        return host.start(authorized if authorized is not None else ssh_key[1])

    yield make
    for host in started:
        host.destroy()


@pytest.fixture
def make_vm(ssh_key: tuple[Path, str]) -> Iterator[Callable[[], TestVm]]:
    """Start test VMs (systemd as PID 1, sshd) for one test."""
    why = usable() or vmhosts.usable()
    if why:
        if in_ci():
            pytest.fail(f"{why}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(why)
    started: list[TestVm] = []

    def make() -> TestVm:
        vm = TestVm()
        started.append(vm)
        vm.start(ssh_key[1])
        return vm

    yield make
    for vm in started:
        vm.destroy()


@pytest.fixture
def local_platform(tmp_path: Path) -> Iterator[object]:
    """A platform on SQLite (for the flows that run recipes: slow enough once)."""
    from roost.orchestration.platform import ensure_local_credentials, open_platform
    from roost.settings import Settings

    settings = Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'r.db'}",
                        oncall=["oncall@example.com"])
    ctx = open_platform(settings)
    ensure_local_credentials(ctx)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def vm_plat(tmp_path: Path) -> Iterator[object]:
    """A platform whose apps may run on test VMs (the ``vm`` runtime), on SQLite."""
    from tests.hosts.vmapp import vm_platform

    with vm_platform(tmp_path / "home", f"sqlite:///{tmp_path / 'r.db'}") as platform:
        yield platform


@pytest.fixture
def vm_api(vm_plat: Any) -> Iterator[Any]:
    """The API of ``vm_plat``, logged in with its admin token."""
    with admin_client(vm_plat) as client:
        yield client
