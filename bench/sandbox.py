"""Sandbox benchmark: what bubblewrap, per-app users and cgroups cost, on and off side by side.

1. Start-up overhead: ``/bin/true`` run plainly and through the sandbox an app process gets
   (overlay, PID namespace, user switch and a cgroup when root), median of RUNS each.
   Target: <= 50 ms.
2. Throughput: the router benchmark's load (wrk, 32 keep-alive connections, GET / through
   Caddy to one gunicorn gthread worker) against two platforms started side by side, one
   sandboxed and one with ROOST_SANDBOX=off, alternating runs. Target: on >= 95 % of off.
3. Hot restarts: the hot-restart benchmark's load during DEPLOYS (20) redeploys, socket mode,
   on each platform. Target: 0 failed requests with the sandbox on.
The peer of each figure is the same platform with the sandbox off. Needs wrk and bwrap.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import hot_restart
from bench.router import wrk
from bench.runtime_common import HOST, bench_platform, gunicorn
from roost.errors import RuntimeFailure
from roost.runtime import sandbox
from roost.runtime.cgroups import Cgroups
from roost.runtime.limits import ResourceLimits

RUNS = 50
ROUNDS = 4


def start_overhead() -> tuple[float, float]:
    """Median milliseconds of /bin/true run plainly and sandboxed."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-sandbox-") as tmp:
        release = Path(tmp) / "release"
        release.mkdir()
        (release / "app.py").write_text("print('hi')\n")
        identity = sandbox.identity("app", "bench", "auto")
        sandbox.seal_release(release, identity.gid if identity else None)
        cgroups = Cgroups(Path(tmp))

        def timed(sandboxed: bool) -> float:
            argv, cwd = ["/bin/true"], release
            group, jail = None, None
            if sandboxed:
                group = cgroups.create("bench", "run.1", ResourceLimits())
                jail = sandbox.for_release(True, release, identity, Path(tmp) / "home",
                                           group.procs_files if group else None)
                assert jail is not None
                argv, _, cwd = jail.wrap(argv, {}, release)
            began = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env={"PATH": "/usr/bin:/bin"}, check=True,
                           pass_fds=jail.fds if jail else ())
            took = time.perf_counter() - began
            if jail is not None:
                jail.close_fds()
            if group is not None:
                group.remove()
            return took * 1000

        timed(True)  # the /etc copy is made once per start
        plain, boxed = [], []
        for _ in range(RUNS):
            plain.append(timed(False))
            boxed.append(timed(True))
    return statistics.median(plain), statistics.median(boxed)


def throughput() -> tuple[list[float], list[float], int]:
    """Requests per second through the router to the same app, sandbox off and on."""
    web = gunicorn(workers=1, threads=16)
    with bench_platform(sandbox=False) as off, bench_platform(sandbox=True) as on:
        urls = []
        for bench in (off, on):
            bench.supervisor.deploy(bench.spec(1, "socket", web=web), {"web": 1}, [HOST])
            urls.append(f"http://127.0.0.1:{bench.router_port}/")
            wrk(urls[-1], HOST)  # warm up
        rates: list[list[float]] = [[], []]
        errors = 0
        for _ in range(ROUNDS):
            for i, url in enumerate(urls):
                rate, err = wrk(url, HOST)
                rates[i].append(rate)
                errors += err
    return rates[0], rates[1], errors


def main() -> None:
    """Run the three measurements and print them side by side."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    sandbox.require()
    plain, boxed = start_overhead()
    version = subprocess.run(["bwrap", "--version"], check=True, capture_output=True,
                             text=True).stdout.split()[-1]
    print(f"sandbox benchmark (bubblewrap {version}, "
          f"{'root: per-app users and cgroups' if os.geteuid() == 0 else 'not root'}, "
          f"{os.cpu_count()} cores)")
    print(f"  start-up, /bin/true, median of {RUNS}: plain {plain:6.1f} ms (peer), "
          f"sandboxed {boxed:6.1f} ms, overhead {boxed - plain:5.1f} ms (target <= 50 ms)")
    off, on, errors = throughput()
    per_round = statistics.median(b / a for a, b in zip(off, on, strict=True))
    print(f"  throughput through the router, wrk -c32, {ROUNDS} alternating rounds:")
    print(f"    sandbox off (peer) {max(off):8.0f} req/s   runs: "
          + ", ".join(f"{r:.0f}" for r in off))
    print(f"    sandbox on         {max(on):8.0f} req/s   runs: "
          + ", ".join(f"{r:.0f}" for r in on))
    print(f"    on / off: best {max(on) / max(off):.0%}, median of rounds {per_round:.0%} "
          f"(target >= 95%), errors {errors}")
    for name, enabled in (("off (peer)", False), ("on", True)):
        with bench_platform(grace=10.0, sandbox=enabled) as bench:
            print(f"  hot restarts, sandbox {name}:")
            try:
                hot_restart.report("  socket", hot_restart.scenario(bench, "socket"))
            except RuntimeFailure as exc:  # a deploy that never became healthy
                print(f"    a deploy failed: {exc.message.splitlines()[0]}")


if __name__ == "__main__":
    main()
