"""`roost export APP --format kubernetes`: the manifests one release would need on Kubernetes.

On paper only (Roost does not run apps on Kubernetes): a Secret with the config vars and the
slug's URL; per process type a Deployment (``maxUnavailable: 0``, readiness from app.json's
health path, a preStop drain, a slug-runner init container unpacking the slug into an
``emptyDir``, the type's limits); a Service for web; a Job template for one-off commands.
"""

from __future__ import annotations

import re
from typing import Any

from roost.runtime.limits import ResourceLimits
from roost.runtime.model import ReleaseSpec

STACK_IMAGE = "roost-stack:bookworm"
PORT = 5000
FETCH = ("import os, tarfile, urllib.request\n"
         "with urllib.request.urlopen(os.environ['ROOST_SLUG_URL'], timeout=120) as r:\n"
         "    tarfile.open(fileobj=r, mode='r|gz').extractall('/app', filter='data')\n")
PROFILE = 'for f in .profile.d/*.sh; do [ -f "$f" ] && . "./$f"; done; exec '


def _name(*parts: str) -> str:
    """A DNS-1123 name from parts (lower case, ``-``, at most 63 characters)."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")[:63].rstrip("-")


def _pod(spec: ReleaseSpec, ptype: str, command: str, limits: ResourceLimits, grace: float,
         secret: str, restart: str) -> dict[str, Any]:
    env_from = [{"secretRef": {"name": secret}}]
    container: dict[str, Any] = {
        "name": _name(ptype), "image": STACK_IMAGE, "workingDir": "/app",
        "command": ["/bin/sh", "-c", PROFILE + command],
        "envFrom": env_from,
        "env": [{"name": "PORT", "value": str(PORT)}, {"name": "HOME", "value": "/app"},
                {"name": "ROOST_RELEASE", "value": f"v{spec.release}"},
                {"name": "DYNO", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"limits": {"memory": str(limits.memory), "cpu": str(limits.cpu)}},
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "app", "mountPath": "/app"}],
    }
    if ptype == "web" and restart == "Always":
        path = spec.health_path
        probe: dict[str, Any] = ({"httpGet": {"path": path, "port": PORT}} if path
                                 else {"tcpSocket": {"port": PORT}})
        container["ports"] = [{"name": "http", "containerPort": PORT}]
        container["readinessProbe"] = {**probe, "periodSeconds": 1, "failureThreshold": 3}
        # Endpoints drop the pod first; the app gets SIGTERM once every proxy has seen it.
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "terminationGracePeriodSeconds": int(grace) + 5,
        "restartPolicy": restart,
        "automountServiceAccountToken": False,
        "initContainers": [{
            "name": "slug", "image": STACK_IMAGE, "command": ["python3", "-c", FETCH],
            "envFrom": env_from, "volumeMounts": [{"name": "app", "mountPath": "/app"}],
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
        "containers": [container],
        "volumes": [{"name": "app", "emptyDir": {}}],
    }


def manifests(spec: ReleaseSpec, formation: dict[str, int], slug_url: str,
              limits: dict[str, ResourceLimits], grace: float) -> list[dict[str, Any]]:
    """Every object the release needs, in apply order."""
    app = spec.app
    secret = _name(app, "config", f"v{spec.release}")
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "roost"}
    docs: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": secret, "labels": labels},
        "stringData": {**spec.env, "ROOST_SLUG_URL": slug_url},
    }]
    default = ResourceLimits()
    for ptype, command in sorted(spec.process_types.items()):
        selector = {**labels, "roost.dev/process": _name(ptype)}
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": _name(app, ptype), "labels": selector},
            "spec": {
                "replicas": int(formation.get(ptype, 0)),
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {"metadata": {"labels": {**selector,
                                                     "roost.dev/release": f"v{spec.release}"}},
                             "spec": _pod(spec, ptype, command, limits.get(ptype, default),
                                          grace, secret, "Always")},
            },
        })
    if "web" in spec.process_types:
        docs.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": _name(app, "web"), "labels": labels},
            "spec": {"selector": {**labels, "roost.dev/process": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": PORT}]},
        })
    docs.append({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": _name(app, "run"), "labels": labels,
                     "annotations": {"roost.dev/usage": "`roost run`: replace the command, "
                                                        "then kubectl create -f"}},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
                 "template": {"metadata": {"labels": {**labels, "roost.dev/process": "run"}},
                              "spec": _pod(spec, "run", "echo replace this command", limits.get(
                                  "run", default), grace, secret, "Never")}},
    })
    return docs
