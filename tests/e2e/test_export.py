"""`roost export APP --format kubernetes`: manifests of the current release, validated offline
against Kubernetes' own schemas (kubernetes-validate, strict: no unknown field)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok

SCHEMA_VERSION = "1.34.0"


def valid(doc: dict[str, Any]) -> None:
    """Check ``doc`` against its kind's schema: a missing required field, a wrong type or an
    unknown (misspelled) field fails."""
    kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


def test_export_writes_valid_manifests_of_the_current_release(server: Server,
                                                              tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Procfile").write_text("web: exec python3 -m http.server $PORT\n"
                                  "worker: exec sleep infinity\n")
    (src / "app.json").write_text(json.dumps(
        {"healthchecks": {"web": [{"type": "startup", "path": "/ready.txt"}]}}))
    (src / "ready.txt").write_text("ok\n")
    ok(server, "apps", "create", "kube")
    ok(server, "config", "set", "kube", "GREETING=hello from roost")
    ok(server, "limits", "set", "kube", "web", "memory=256M", "cpu=0.5")
    assert server.roost("deploy", "kube", str(src), timeout=300).returncode == 0

    out = tmp_path / "kube.yaml"
    ok(server, "export", "kube", "--format", "kubernetes", "--image", "stack:24",
       "--run", "python3 -V", "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the config vars
    docs = list(yaml.safe_load_all(out.read_text()))
    for doc in docs:
        valid(doc)
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert set(kinds) == {("Secret", "kube-config"), ("Deployment", "kube-web"),
                          ("Deployment", "kube-worker"), ("Service", "kube-web"),
                          ("Job", "kube-run-1")}
    assert kinds["Secret", "kube-config"]["stringData"]["GREETING"] == "hello from roost"
    web = kinds["Deployment", "kube-web"]["spec"]
    assert web["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    [container] = web["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready.txt"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert container["resources"]["limits"] == {"memory": str(256 * 1024 ** 2), "cpu": "500m"}
    assert container["image"] == "stack:24" and "http.server" in container["command"][-1]
    assert web["template"]["spec"]["initContainers"][0]["name"] == "slug"
    assert kinds["Deployment", "kube-worker"]["spec"]["replicas"] == 0  # not scaled up
    assert "python3 -V" in kinds["Job", "kube-run-1"]["spec"]["template"]["spec"][
        "containers"][0]["command"][-1]


def test_export_refuses_what_it_cannot_do(server: Server) -> None:
    ok(server, "apps", "create", "empty")
    undeployed = server.roost("export", "empty")
    assert undeployed.returncode != 0 and "no deployed release" in undeployed.stderr
    other = server.roost("export", "empty", "--format", "nomad")
    assert other.returncode != 0 and "the one format is kubernetes" in other.stderr
