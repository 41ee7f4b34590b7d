"""`roost export APP --format kubernetes` against a real `roost up` with a deployed app."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from tests.e2e.conftest import Server

APP = Path(__file__).resolve().parent.parent / "swarm" / "app"


def test_export_writes_valid_kubernetes_manifests_of_the_current_release(
        server: Server, tmp_path: Path) -> None:
    assert server.roost("apps", "create", "kx").returncode == 0
    assert server.roost("config", "set", "kx", "GREETING=hej").returncode == 0
    deployed = server.roost("deploy", "kx", str(APP), timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    shown = server.roost("export", "kx", "--format", "kubernetes")
    assert shown.returncode == 0, shown.stderr
    docs = list(yaml.safe_load_all(shown.stdout))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.34.0", strict=True)
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Secret", "Deployment", "Deployment", "Service", "Job"]
    assert docs[0]["stringData"]["GREETING"] == "hej"
    web = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/health"  # from the app's app.json

    target = tmp_path / "kx.yaml"
    written = server.roost("export", "kx", "--format", "kubernetes", "-o", str(target))
    assert written.returncode == 0 and "Wrote 5 manifests" in written.stdout
    assert target.stat().st_mode & 0o777 == 0o600  # it holds the config vars
    assert list(yaml.safe_load_all(target.read_text())) == docs


def test_export_refuses_an_unknown_format_and_an_app_without_release(server: Server) -> None:
    bad = server.roost("export", "kx", "--format", "helm")
    assert bad.returncode != 0 and "use --format kubernetes" in bad.stderr
    assert server.roost("apps", "create", "empty").returncode == 0
    none = server.roost("export", "empty")
    assert none.returncode != 0 and "deploy it first" in none.stderr
