"""A VM app's own recipes (``recipes/*.py`` in its source) against a real systemd VM.

They run on the app's host before its release goes live, from the build sandbox (they
cannot read the control plane's secret key), with their operation lines in the deploy's
output; unchanged recipes are not run again; a failing recipe fails the deploy and the
running release stays; they run only on a host dedicated to the app, and a host they ran
on takes no other app.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roost.build.archive import pack_source
from roost.errors import RoostError
from roost.orchestration import pipeline
from roost.orchestration.platform import Platform
from tests.hosts import vmapp
from tests.hosts.vmapp import add_host, get
from tests.hosts.vmhosts import TestVm

pytestmark = pytest.mark.xdist_group("vm")

RECIPE = '''
import os
from pyinfra.operations import files, server

probes = []
for path in {secrets!r}:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        probes.append(os.path.basename(path) + ":READ")
    except OSError as exc:
        probes.append(os.path.basename(path) + ":" + type(exc).__name__)

files.directory(name="extra directory", path="/opt/extra", mode="755")
files.put(name="extra marker", src="files/marker", dest="/opt/extra/marker", mode="644")
server.shell(name="count runs", commands=["echo run >> /opt/extra/runs"])
server.shell(name="report probes", commands=["echo " + " ".join(probes) + " > /opt/extra/probe"])
'''
FAILING = '''
from pyinfra.operations import server

server.shell(name="install the vendor daemon", commands=["echo vendor-tarball-missing >&2; exit 3"])
'''


def _source(tmp: Path, version: str, recipe: str) -> Path:
    """The legacy app whose web process serves the marker its recipe installed."""
    src = tmp / f"src-{version}"
    (src / "recipes" / "files").mkdir(parents=True)
    (src / "app.py").write_text(vmapp.APP)
    (src / "VERSION").write_text(version + "\n")
    (src / "Procfile").write_text('web: GREETING="$(cat /opt/extra/marker)" exec python3 app.py\n')
    (src / "recipes" / "default.py").write_text(recipe)
    (src / "recipes" / "files" / "marker").write_text("extra-1\n")
    return pack_source(src, tmp / f"{version}.tar.gz")


def _deploy(vm_plat: Platform, archive: Path, events: list[dict[str, Any]] | None = None
            ) -> tuple[int, list[dict[str, Any]]]:
    events = [] if events is None else events
    release = pipeline.deploy_source(vm_plat, "old", archive, "test", events.append)
    return release.number, events


def _said(events: list[dict[str, Any]]) -> str:
    return "\n".join(e.get("line") or e.get("message") or "" for e in events)


def test_app_recipes_run_on_a_dedicated_vm(vm_api: Any, vm_plat: Platform,
                                           make_vm: Callable[[], TestVm],
                                           ssh_key: tuple[Path, str], tmp_path: Path) -> None:
    vm = make_vm()
    add_host(vm_api, vm, "legacy1", ssh_key[0])
    home = vm_plat.settings.home
    secrets = [str(home / "secret.key"), str(home / "roost.db"), str(home / "credentials.json")]
    assert (home / "secret.key").is_file()
    good = RECIPE.format(secrets=secrets)
    for name in ("other", "old"):
        created = vm_api.post("/api/v1/apps", json={"name": name, "runtime": "vm",
                                                 "host": "legacy1"})
        assert created.status_code == 201, created.text

    # The host also carries another app: the recipes (root there) are refused, nothing ran.
    with pytest.raises(RoostError, match="legacy1 also carries other: app recipes get root"):
        _deploy(vm_plat, _source(tmp_path, "zero", good))
    assert vm.run("test -e /opt/extra && echo yes || echo no").strip() == "no"
    assert vm_api.delete("/api/v1/apps/other", params={"confirm": "other"}).status_code == 204

    # On a host of its own: applied before the release goes live, lines in the output.
    v1, events = _deploy(vm_plat, _source(tmp_path, "one", good))
    said = _said(events)
    assert "running recipes/default.py on legacy1" in said
    assert "extra marker: changed" in said and "count runs: changed" in said
    assert get(vm_plat, "old").text.split() == ["one", f"v{v1}", "extra-1"]
    # From the build sandbox: none of the control plane's files could be read.
    probes = vm.run("cat /opt/extra/probe").split()
    assert len(probes) == 3 and not any(p.endswith(":READ") for p in probes), probes

    # The same recipes again: not run again (the deploy stays fast).
    v2, events = _deploy(vm_plat, _source(tmp_path, "two", good))
    assert "recipes/ unchanged since they last ran on legacy1" in _said(events)
    assert vm.run("cat /opt/extra/runs").split() == ["run"]
    assert get(vm_plat, "old").text.split() == ["two", f"v{v2}", "extra-1"]

    # A failing recipe fails the deploy with its message; the running release stays.
    events: list[dict[str, Any]] = []
    with pytest.raises(RoostError, match="the recipes of old failed on legacy1 at 'install "
                                         "the vendor daemon'") as failed:
        _deploy(vm_plat, _source(tmp_path, "three", FAILING), events)
    assert "vendor-tarball-missing" in str(failed.value), str(failed.value)
    assert "install the vendor daemon: failed" in _said(events)
    assert get(vm_plat, "old").text.split() == ["two", f"v{v2}", "extra-1"]

    # A config change keeps the running release's recipes (known from its meta): not run.
    changed = vm_api.patch("/api/v1/apps/old/config", json={"vars": {"MODE": "calm"}}).json()
    assert changed["error"] == "" and changed["release"] > v2, changed
    assert get(vm_plat, "old").text.split() == ["two", f"v{changed['release']}", "extra-1"]
    assert vm.run("cat /opt/extra/runs").split() == ["run"]

    # Each run is in the hosts apply log.
    log = [(a["target"], a["status"], a["results"]["legacy1"]["status"])
           for a in vm_api.get("/api/v1/hosts/applies").json()]
    assert log == [("app:old", "failed", "failed"), ("app:old", "ok", "ok")]

    # A host an app's recipes ran on is that app's alone.
    refused = vm_api.post("/api/v1/apps", json={"name": "late", "runtime": "vm",
                                             "host": "legacy1"})
    assert refused.status_code == 422 and "ran the own recipes of old" in refused.text
