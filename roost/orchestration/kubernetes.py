"""`roost export APP --format kubernetes`: the manifests the same release needs on Kubernetes.

For a company that outgrows Roost's runtimes, on paper: what the current release (slug,
config vars, process types and formation, limits, app.json health check) would be on a
Kubernetes cluster, following Deis Workflow's slug-runner pattern:

- a ``Secret`` with the config vars (and the slug's URL);
- per process type a ``Deployment``: an init container fetches and unpacks the slug into an
  ``emptyDir`` at ``/app``, the process runs its Procfile command from there; rolling updates
  with ``maxUnavailable: 0`` (a new pod must be ready before an old one goes), readiness from
  app.json's health check (else a TCP check) for web, a ``preStop`` pause so the Service stops
  sending before SIGTERM, and the grace period and limits Roost uses;
- a ``Service`` in front of the web pods;
- a ``Job`` per one-off command (``--run``), from the same slug and config.

The stack image (``--image``, default ``ROOST_STACK_IMAGE``) must have bash, curl and tar.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

from roost.core import apps, releases
from roost.errors import InvalidInput, NotFound
from roost.orchestration.platform import Platform
from roost.runtime.limits import default_limits, for_type
from roost.runtime.model import ReleaseSpec

DEFAULT_IMAGE = "heroku/heroku:24"  # a stack with bash, curl and tar, as slugs expect
WEB_PORT = 5000
SLUG_URL_SECONDS = 7 * 86_400
_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def export(platform: Platform, app_name: str, *, image: str = "",
           runs: list[str] | None = None, release_number: int | None = None) -> str:
    """The manifests (YAML documents) of an app's current release (or ``release_number``)."""
    with platform.sessions.begin() as session:
        app = apps.get(session, app_name)
        release = (releases.get(session, app_name, release_number) if release_number
                   else releases.current(session, app))
        if release is None or not release.slug_key:
            raise NotFound(f"{app_name} has no deployed release to export: deploy it first")
        env = releases.config_of(release, platform.cipher)
        formation, settings = dict(app.formation or {}), dict(app.settings or {})
        number, types, slug_key = release.number, dict(release.process_types), release.slug_key
    spec = ReleaseSpec(app=app_name, release=number, directory=Path("/app"), env=env,
                       process_types=types, app_json=_app_json(platform, slug_key))
    slug_url = platform.objects.url(slug_key, expires_in=SLUG_URL_SECONDS)
    name = _label(app_name)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "roost",
              "roost.dev/release": f"v{number}"}
    docs: list[dict[str, Any]] = [_secret(name, labels, env, slug_url)]
    defaults = default_limits(platform.settings)
    for ptype, command in sorted(types.items()):
        if ptype == "release":
            continue
        limits = for_type(settings, ptype, defaults)
        replicas = int(formation.get(ptype, 1 if ptype == "web" else 0))
        docs.append(_deployment(name, labels, ptype, command, replicas, image or DEFAULT_IMAGE,
                                spec, limits.memory, limits.cpu,
                                platform.settings.grace_seconds))
    if "web" in types:
        docs.append(_service(name, labels))
    for index, command in enumerate(runs or [], start=1):
        if not command.strip():
            raise InvalidInput("--run needs a command, e.g. --run 'python manage.py migrate'")
        limits = for_type(settings, "run", defaults)
        docs.append(_job(name, labels, index, command, image or DEFAULT_IMAGE,
                         limits.memory, limits.cpu))
    return yaml.safe_dump_all(docs, sort_keys=False)


def _label(app: str) -> str:
    return _DNS_LABEL.sub("-", app.lower()).strip("-")[:50] or "app"


def _app_json(platform: Platform, slug_key: str) -> dict[str, Any]:
    """app.json from the slug (empty when it has none)."""
    with tempfile.TemporaryDirectory(prefix="roost-export-") as tmp:
        path = Path(tmp) / "slug.tgz"
        platform.objects.download(slug_key, path)
        with tarfile.open(path, "r:*") as slug:
            for member in ("./app.json", "app.json"):
                try:
                    found = slug.getmember(member)
                except KeyError:
                    continue
                data = slug.extractfile(found) if found.isfile() else None
                if data is None or found.size > 1_000_000:
                    return {}
                try:
                    loaded = json.load(io.TextIOWrapper(data, encoding="utf-8"))
                except ValueError:
                    return {}
                return loaded if isinstance(loaded, dict) else {}
    return {}


def _secret(name: str, labels: dict[str, str], env: dict[str, str],
            slug_url: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": f"{name}-config", "labels": labels},
            "stringData": {**env, "ROOST_SLUG_URL": slug_url}}


def _slug_volume_and_init(name: str, image: str) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]]]:
    volumes = [{"name": "app", "emptyDir": {}}]
    fetch = ('curl --fail --silent --show-error --location "$ROOST_SLUG_URL" '
             "| tar -xz -C /app")
    init = [{"name": "slug", "image": image, "command": ["/bin/bash", "-c", fetch],
             "env": [{"name": "ROOST_SLUG_URL", "valueFrom": {"secretKeyRef": {
                 "name": f"{name}-config", "key": "ROOST_SLUG_URL"}}}],
             "volumeMounts": [{"name": "app", "mountPath": "/app"}]}]
    return volumes, init


def _container(name: str, ptype: str, command: str, image: str, memory: int,
               cpu: float) -> dict[str, Any]:
    run = ("for f in /app/.profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done; "
           f"exec {command}")
    amount = {"memory": str(memory), "cpu": f"{round(cpu * 1000)}m"}
    return {"name": ptype, "image": image, "workingDir": "/app",
            "command": ["/bin/bash", "-c", run],
            "envFrom": [{"secretRef": {"name": f"{name}-config"}}],
            "env": [{"name": "HOME", "value": "/app"}, {"name": "DYNO", "value": f"{ptype}.1"}],
            "resources": {"limits": amount, "requests": amount},
            "volumeMounts": [{"name": "app", "mountPath": "/app"}]}


def _deployment(name: str, labels: dict[str, str], ptype: str, command: str, replicas: int,
                image: str, spec: ReleaseSpec, memory: int, cpu: float,
                grace: float) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": name, "roost.dev/process-type": ptype}
    container = _container(name, ptype, command, image, memory, cpu)
    if ptype == "web":
        container["env"].append({"name": "PORT", "value": str(WEB_PORT)})
        container["ports"] = [{"name": "http", "containerPort": WEB_PORT}]
        path = spec.health_path
        check: dict[str, Any] = ({"httpGet": {"path": path, "port": "http"}} if path
                                 else {"tcpSocket": {"port": "http"}})
        container["readinessProbe"] = {**check, "periodSeconds": 2, "failureThreshold": 3}
        # The endpoint leaves the Service before SIGTERM arrives: no request meets a
        # process that has begun to stop.
        container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    volumes, init = _slug_volume_and_init(name, image)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{name}-{_label(ptype)}",
                     "labels": {**labels, "roost.dev/process-type": ptype}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {**labels, **selector}},
                "spec": {"terminationGracePeriodSeconds": int(grace) + 5,
                         "initContainers": init, "containers": [container],
                         "volumes": volumes},
            },
        },
    }


def _service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{name}-web", "labels": labels},
            "spec": {"selector": {"app.kubernetes.io/name": name,
                                  "roost.dev/process-type": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def _job(name: str, labels: dict[str, str], index: int, command: str, image: str,
         memory: int, cpu: float) -> dict[str, Any]:
    volumes, init = _slug_volume_and_init(name, image)
    container = _container(name, "run", command, image, memory, cpu)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{name}-run-{index}", "labels": labels},
            "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 86_400,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"restartPolicy": "Never", "initContainers": init,
                                           "containers": [container], "volumes": volumes}}}}
