"""VM restart benchmark: a ``vm``-runtime app deployed 20 times under a request loop.

A real systemd test VM (tests/hosts/vmhosts.py: systemd as PID 1 and sshd, in namespaces
of their own) is added as a host; the legacy app of tests/hosts/vmapp.py is created on it
(``--runtime vm``), built twice (two releases), then released DEPLOYS times by rollbacks
that alternate between the two (each one a real deploy through the pipeline's tail: env
file, candidate check on the VM, the live unit moved to the release, restarted while its
socket stays in systemd). A closed request loop (keep-alive, through Roost's router, no
retries by the client, bounded in count and time) runs for the whole series; every non-200
answer or connection error is a failed request.

Peer, in the same run: the same app on the local runtime (supervisor and router on this
machine), released the same way under the same loop. Target: 0 failed requests for the
vm app. Run as root: ``python -m bench.vm_restart``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roost.core import apps
from roost.hosts import keys
from roost.orchestration import hostflow, pipeline, vm_apps
from roost.orchestration.platform import Platform
from roost.store.models.hosts import Host
from tests.hosts import vmhosts
from tests.hosts.sshhosts import usable
from tests.hosts.vmapp import Load, deploy, get, source, vm_platform
from tests.hosts.vmhosts import TestVm

DEPLOYS = int(os.environ.get("DEPLOYS", "20"))


def series(plat: Platform, app: str, tmp: Path) -> tuple[Load, list[float]]:
    """Two builds, then DEPLOYS releases alternating between them under the loop."""
    first = deploy(plat, app, source(tmp, f"{app}-one"))
    second = deploy(plat, app, source(tmp, f"{app}-two"))
    get(plat, app).raise_for_status()
    took: list[float] = []
    with Load(plat, app, limit=500_000, seconds=900) as load:
        deadline = time.monotonic() + 30
        while load.ok < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(DEPLOYS):
            start = time.monotonic()
            pipeline.rollback(plat, app, first if i % 2 == 0 else second, "bench",
                              lambda e: None)
            took.append(time.monotonic() - start)
        seen = load.ok  # a last stretch after the final release
        deadline = time.monotonic() + 10
        while load.ok < seen + 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    return load, took


def line(label: str, load: Load, took: list[float]) -> str:
    """One result line."""
    return (f"{label:<46} {len(took)} deploys  {load.ok + len(load.failed):>6} requests  "
            f"failed {len(load.failed):>3}  deploy p50 {statistics.median(took):.2f}s "
            f"max {max(took):.2f}s")


def main() -> None:
    """Run both series and print them side by side."""
    why = usable() or vmhosts.usable()
    if why:
        sys.exit(f"cannot run: {why}")
    with tempfile.TemporaryDirectory(prefix="roost-bench-vm-") as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        vm = TestVm()
        try:
            vm.start(key.with_suffix(".pub").read_text().strip())
            with vm_platform(tmp / "home", f"sqlite:///{tmp / 'r.db'}") as plat:
                hostflow.add(plat, "bench", "vm1", f"ssh://root@{vm.address}",
                             keys.scan(vm.address, vm.port).fingerprint, ["legacy"],
                             private_key=key.read_text())
                with plat.sessions.begin() as session:
                    host = session.query(Host).filter_by(name="vm1").one()
                    vm_apps.place(session, apps.create(session, "old", "bench"), host)
                    apps.create(session, "new", "bench")
                vm_load, vm_took = series(plat, "old", tmp)
                local_load, local_took = series(plat, "new", tmp)
        finally:
            vm.destroy()
    print(line("vm runtime (systemd socket on a VM, over SSH)", vm_load, vm_took))
    print(line("local runtime (same app, same run)", local_load, local_took))
    for label, load in (("vm", vm_load), ("local", local_load)):
        for failure in load.failed[:3]:
            print(f"  {label} failure: {failure}")
    verdict = "met" if not vm_load.failed else "NOT met"
    print(f"target 0 failed requests for the vm app: {verdict}")


if __name__ == "__main__":
    main()
