"""The ``vm`` runtime against a real systemd: a legacy app on a test VM reached over SSH.

It deploys through the whole pipeline, serves through the router (its upstream is the VM's
address), keeps every request of a bounded load loop answered while it is deployed again
and restarted, rolls back, refuses a release that does not start (the running one stays),
and its journald lines reach `roost logs`. Its config sits in a root-only file and it runs
as a user of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from roost.core import releases
from roost.errors import RoostError
from roost.orchestration import services
from roost.orchestration.platform import Platform
from roost.store.models import App
from tests.conftest import wait_for
from tests.hosts.vmapp import Load, add_host, deploy, get, source
from tests.hosts.vmhosts import TestVm

pytestmark = pytest.mark.xdist_group("vm")


def _app_names(vm_plat: Platform) -> list[str]:
    with vm_plat.sessions.begin() as session:
        return [a.name for a in session.query(App)]


def test_create_refuses_bad_placement(vm_api: Any, vm_plat: Platform) -> None:
    cases = [({"runtime": "vm"}, "--runtime vm needs --host"),
             ({"runtime": "vm", "host": "nope"}, "no host named 'nope'"),
             ({"runtime": "kvm", "host": "nope"}, "runtime 'kvm' is not known"),
             ({"host": "nope"}, "--host only goes with --runtime vm")]
    for extra, message in cases:
        r = vm_api.post("/api/v1/apps", json={"name": "old", **extra})
        assert r.status_code == 422, r.text
        assert message in r.json()["error"]["message"]
    assert _app_names(vm_plat) == []


def test_legacy_app_on_a_vm(vm_api: Any, vm_plat: Platform, make_vm: Callable[[], TestVm],
                            ssh_key: tuple[Path, str], tmp_path: Path) -> None:
    vm = make_vm()
    add_host(vm_api, vm, "legacy1", ssh_key[0])
    created = vm_api.post("/api/v1/apps", json={"name": "old", "runtime": "vm",
                                             "host": "legacy1"})
    assert created.status_code == 201, created.text
    assert created.json()["host"] == "legacy1" and created.json()["runtime"] == "vm"
    port = created.json()["port"]
    greeting = 'hi"$HOME`x`\\n'  # quoted for systemd's EnvironmentFile, arrives as is
    configured = vm_api.patch("/api/v1/apps/old/config", json={"vars": {"GREETING": greeting}})
    assert configured.status_code == 200

    v1 = deploy(vm_plat, "old", source(tmp_path, "one"))
    assert get(vm_plat, "old").text.split() == ["one", f"v{v1}", greeting]
    # Served by the VM's systemd: the socket is on the VM's address, the app not root.
    assert vm.run(f"ss -ltnH 'sport = :{port}'").count(vm.address) == 1
    pid = vm.run("systemctl show -p MainPID --value roost-old_web.service").strip()
    assert vm.run(f"ps -o user= -p {pid}").strip() == "app-old"
    env = vm.run(f"stat -c '%a %U' /etc/roost/apps/old/v{v1}.env").split()
    assert env == ["600", "root"]
    denied = vm.run(f"runuser -u app-old -- cat /etc/roost/apps/old/v{v1}.env 2>&1 || true")
    assert "Permission denied" in denied

    # A new release and a restart under load: no request fails.
    with Load(vm_plat, "old") as load:
        wait_for(lambda: load.ok >= 20, timeout=30)
        v2 = deploy(vm_plat, "old", source(tmp_path, "two"))
        wait_for(lambda: "two" in load.bodies, timeout=30)
        vm_api.post("/api/v1/apps/old/restart", json={}).raise_for_status()
        seen = load.ok
        wait_for(lambda: load.ok >= seen + 20, timeout=30)
    assert load.failed == [] and {"one", "two"} <= load.bodies, load.failed[:5]
    assert get(vm_plat, "old").text.split()[:2] == ["two", f"v{v2}"]

    ps = vm_api.get("/api/v1/apps/old/ps").json()
    assert [(p["name"], p["state"], p["release"], p["node"]) for p in ps] == [
        ("web.1", "up", v2, "legacy1")]

    # A release that cannot start fails its deploy; the running one stays live.
    with pytest.raises(RoostError, match="did not start on legacy1") as failed:
        deploy(vm_plat, "old", source(tmp_path, "broken"))
    assert "this release cannot start" in str(failed.value)  # its journal, in the error
    assert get(vm_plat, "old").text.split()[:2] == ["two", f"v{v2}"]

    back = vm_api.post("/api/v1/apps/old/rollback", json={"release": f"v{v1}"})
    assert back.status_code == 200, back.text
    assert get(vm_plat, "old").text.split()[0] == "one"

    # The journal on the VM reaches `roost logs`.
    def logged() -> bool:
        text = vm_api.get("/api/v1/apps/old/logs", params={"lines": 2000}).text
        return all(line in text for line in ("app[web.1]: served / by one",
                                             "app[web.1]: one listening",
                                             "app[web.check]: one listening"))

    wait_for(logged, timeout=30)

    # A one-off command runs on the VM as the app's user, with the release's config.
    ran = vm_api.post("/api/v1/apps/old/run", json={"command": [
        "sh", "-c", "id -un; cat VERSION; printf '%s\\n' \"$GREETING\"; exit 3"]})
    events = [json.loads(line) for line in ran.text.splitlines()]
    assert [e["line"] for e in events if e["type"] == "output"] == ["app-old", "one", greeting]
    assert events[-1] == {"type": "exit", "code": 3}

    # The release's published static files: ASSET_HOST and the manifest reach the VM, and
    # this host's router serves the files the manifest names.
    ran = vm_api.post("/api/v1/apps/old/run", json={"command": [
        "sh", "-c", 'echo "$ASSET_HOST"; cat "$ROOST_ASSET_MANIFEST"']})
    lines = [json.loads(line) for line in ran.text.splitlines()]
    out = [e["line"] for e in lines if e["type"] == "output"]
    # The manifest ends without a newline: the exit code still comes apart from it.
    assert len(out) == 2 and lines[-1] == {"type": "exit", "code": 0}, out
    css = json.loads(out[1])["files"]["app.css"]
    assert css.startswith(out[0]) and css != f"{out[0]}app.css", out
    served = httpx.get(f"http://{vm_plat.settings.router_listen}{urlsplit(css).path}",
                       headers={"Host": urlsplit(css).hostname or ""}, timeout=10)
    assert served.status_code == 200 and served.text == "/* one */ body { margin: 0 }\n"

    # The host cannot be removed while the app runs there.
    refused = vm_api.delete("/api/v1/hosts/legacy1")
    assert refused.status_code == 409 and "runs the app(s) old" in refused.text

    # Roost restarts: the app kept running on its VM, and is routed to it again.
    runtime = vm_plat.running_runtime()
    runtime.stop()
    vm_plat.runtime = None
    again = services.runtime(vm_plat)
    again.start()
    again.restore(vm_plat, lambda r: releases.config_of(r, vm_plat.cipher))
    assert get(vm_plat, "old").text.split()[0] == "one"
    assert [p["state"] for p in vm_api.get("/api/v1/apps/old/ps").json()] == ["up"]

    # Destroying the app removes its units, files and user from the VM.
    assert vm_api.delete("/api/v1/apps/old", params={"confirm": "old"}).status_code == 204
    assert vm.run("ls /etc/systemd/system | grep -c roost-old_ || true").strip() == "0"
    assert vm.run("id app-old 2>&1 || true").find("no such user") >= 0
