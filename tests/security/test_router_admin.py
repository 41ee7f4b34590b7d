"""Attack: an app reconfigures the router through Caddy's admin API (to serve ROOST_HOME).

The admin API listens only on a unix socket in a 0700 directory of the router's own user,
never on 127.0.0.1:2019; Caddy and the upstream resolver do not run as root."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok
from tests.security.hostile import REFUSED, attack, deploy_hostile, get, router
from tests.security.platform_procs import listening_tcp, parent_of, pids_with, uid_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="separate users need root")


def test_an_app_cannot_reach_the_routers_admin_api(server: Server, tmp_path: Path) -> None:
    deploy_hostile(server, tmp_path / "evil")
    socket_path = server.home / "run" / "caddy-admin.sock"
    assert socket_path.is_socket()

    [resolver] = [pid for pid in pids_with("roost.runtime.upstreams")
                  if parent_of(pid) == server.proc.pid]
    commands = f"/proc/{resolver}/fd/0"  # the pipe that feeds the resolver its records
    found = attack(server, {"sockets": [str(socket_path)], "tcp": ["127.0.0.1:2019"],
                            "writes": [commands]})

    assert found["uid"] != 0
    assert found[f"admin {socket_path}"] in REFUSED
    assert found[f"write {commands}"] in REFUSED
    # Nothing of this Roost's listens on 2019 (a refusal); whatever else on the host may,
    # the route it asked for never reached this router:
    assert not found["admin 127.0.0.1:2019"].startswith("ok: HTTP/1.1 200")
    loot = get(server, "loot.localhost", "/secret.key")
    assert loot.status_code == 404 and "No app is served" in loot.text

    # The platform keeps serving, and Roost itself still drives its router.
    assert get(server, "evil.localhost").json() == {"app": "hostile"}
    ok(server, "domains", "add", "evil", "evil2.localhost")
    wait_for(lambda: get(server, "evil2.localhost").status_code == 200, timeout=30)
    assert "healthy" in ok(server, "status")


def test_the_router_runs_unprivileged_and_listens_only_where_told(server: Server) -> None:
    [caddy] = pids_with(str(server.home / "run" / "caddy-boot.json"))
    [resolver] = [pid for pid in pids_with("roost.runtime.upstreams")
                  if parent_of(pid) == server.proc.pid]
    router_uid = pwd.getpwnam("roost-router").pw_uid
    assert uid_of(caddy) == uid_of(resolver) == router_uid
    # Its public listener is the router address; the admin API has no port at all. The
    # only others are its two page servers ("no app here", "unavailable") on loopback.
    public = int(router(server).rpartition(":")[2])
    listeners = listening_tcp(caddy)
    pages = {(address, port) for address, port in listeners if port != public}
    assert public in {port for _, port in listeners}
    assert len(pages) == 2 and {address for address, _ in pages} == {"127.0.0.1"}
    for _, port in pages:
        answer = httpx.get(f"http://127.0.0.1:{port}/secret.key", timeout=10)
        assert answer.status_code in (404, 503) and "secret" not in answer.text
    run = (server.home / "run").stat()
    assert (run.st_uid, run.st_mode & 0o777) == (router_uid, 0o700)
