"""Run pyinfra for some hosts in a child process (:mod:`roost.hosts.worker`).

Private keys and the pinned host keys go to files in a fresh 0700 directory that lives
only as long as the job; the child connects with those keys only (no agent, no
``~/.ssh``), and refuses any host key but the pinned one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.errors import RoostError
from roost.hosts.keys import HostKey

BOOT = ("from gevent import monkey; monkey.patch_all(); "
        "from roost.hosts.worker import main; main()")


@dataclass
class HostSpec:
    """A host as the worker needs it: where, how to log in, which recipes, what data."""

    name: str
    address: str
    port: int
    user: str
    private_key: str
    host_key: HostKey
    roles: list[str] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class WorkerError(RoostError):
    """The worker process itself failed (not one host)."""

    code = "hosts_worker_failed"
    status = 502


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def write_job(workdir: Path, mode: str, hosts: list[HostSpec],
              recipe_order: list[str] | None = None, connect_timeout: float = 10.0
              ) -> dict[str, Any]:
    """Write the hosts' private keys and pinned host keys into ``workdir`` (0600 files);
    the job the worker reads."""
    known = "".join(h.host_key.known_hosts_line(h.address, h.port) for h in hosts)
    _write(workdir / "known_hosts", known)
    _write(workdir / "ssh_config", "")
    specs = []
    for i, h in enumerate(hosts):
        key_file = workdir / f"key{i}"
        _write(key_file, h.private_key)
        specs.append({"name": h.name, "address": h.address, "port": h.port,
                      "user": h.user, "key_file": str(key_file), "roles": h.roles,
                      "recipes": h.recipes, "data": h.data})
    return {"mode": mode, "hosts": specs, "known_hosts": str(workdir / "known_hosts"),
            "ssh_config": str(workdir / "ssh_config"), "connect_timeout": connect_timeout,
            "recipe_order": recipe_order or []}


def run(mode: str, hosts: list[HostSpec], recipe_order: list[str] | None = None,
        timeout: float = 3600.0, connect_timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """Run ``mode`` (facts, plan or apply) on ``hosts``; the worker's result per host name."""
    if not hosts:
        return {}
    workdir = Path(tempfile.mkdtemp(prefix="roost-hosts-"))
    try:
        job = write_job(workdir, mode, hosts, recipe_order, connect_timeout)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parents[2]),
                                                        env.get("PYTHONPATH", "")) if p)
        try:
            done = subprocess.run([sys.executable, "-c", BOOT], input=json.dumps(job),
                                  capture_output=True, text=True, timeout=timeout, env=env,
                                  cwd=workdir)
        except subprocess.TimeoutExpired:
            raise WorkerError(f"hosts {mode} did not finish within {timeout:.0f} s") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if "hosts" not in result:
        why = result.get("error") or (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WorkerError(f"hosts {mode} failed: {why}")
    hosts_out: dict[str, dict[str, Any]] = result["hosts"]
    return hosts_out
