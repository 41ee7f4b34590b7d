"""`roost export --format kubernetes`: manifests valid against Kubernetes' own schemas."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from roost.runtime.kubernetes import manifests
from roost.runtime.limits import ResourceLimits
from roost.runtime.model import ReleaseSpec

SCHEMA_VERSION = "1.34.0"  # the preStop sleep action is in the API since 1.30


def release(app_json: dict[str, object]) -> ReleaseSpec:
    return ReleaseSpec(app="shop", release=7, directory=Path("/app"),
                       env={"DATABASE_URL": "postgres://u:p@db/shop"},
                       process_types={"web": "gunicorn app:app", "worker": "python work.py"},
                       app_json=app_json)


def by_kind(docs: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [d for d in docs if d["kind"] == kind]


def test_every_manifest_is_valid_and_says_what_the_release_needs() -> None:
    docs = manifests(release({"healthchecks": {"web": [{"path": "/up"}]}}),
                     {"web": 2, "worker": 1}, "https://s3.example/slug?sig=x",
                     {"web": ResourceLimits(memory=256 * 1024 ** 2, cpu=0.5)}, 30.0)
    for doc in docs:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)
    assert [d["kind"] for d in docs] == ["Secret", "Deployment", "Deployment", "Service", "Job"]
    secret = by_kind(docs, "Secret")[0]
    assert secret["stringData"] == {"DATABASE_URL": "postgres://u:p@db/shop",  # type: ignore[index]
                                    "ROOST_SLUG_URL": "https://s3.example/slug?sig=x"}
    web = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "shop-web")  # type: ignore[index]
    spec = web["spec"]
    assert spec["replicas"] == 2  # type: ignore[index]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0  # type: ignore[index]
    pod = spec["template"]["spec"]  # type: ignore[index]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/up", "port": 5000}
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert container["resources"]["limits"] == {"memory": str(256 * 1024 ** 2), "cpu": "0.5"}
    assert pod["initContainers"][0]["name"] == "slug"
    assert pod["securityContext"]["runAsNonRoot"] is True
    job = by_kind(docs, "Job")[0]["spec"]["template"]["spec"]  # type: ignore[index]
    assert job["restartPolicy"] == "Never" and "readinessProbe" not in job["containers"][0]


def test_without_a_health_path_readiness_is_a_tcp_connect() -> None:
    docs = manifests(release({}), {"web": 1}, "u", {}, 5.0)
    web = by_kind(docs, "Deployment")[0]
    probe = web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]  # type: ignore[index]
    assert probe["tcpSocket"] == {"port": 5000}


def test_the_validator_catches_a_broken_manifest() -> None:
    docs = manifests(release({}), {"web": 1}, "u", {}, 5.0)
    broken = dict(docs[1], spec={**docs[1]["spec"], "replicas": "two"})  # type: ignore[dict-item]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, SCHEMA_VERSION, strict=True)
