"""Router benchmark: requests per second to a gunicorn app directly and through Roost's router.

Same app process, same load generator (wrk, 1 thread, 32 keep-alive connections, GET /),
alternating direct and routed runs in the same session. Printed: the best of each, and the
median of the per-round ratios (each round runs direct then routed back to back, so a busy
neighbour on a shared host skews both halves of a round alike).
The peer is the app itself with nothing in front of it. Target: routed >= 70 % of direct.
Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.runtime_common import HOST, bench_platform, gunicorn

SECONDS = 4
ROUNDS = 5
CONNECTIONS = 32


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    """Every process in a process group (the app: gunicorn's master and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


def wrk(url: str, host: str | None = None) -> tuple[float, int]:
    """Requests per second and non-2xx/socket errors of one wrk run."""
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url]
    if host:
        cmd[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, errors + (int(bad.group(1)) if bad else 0)


def main() -> None:
    """Deploy the app, then alternate direct and routed wrk runs."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with bench_platform() as bench:
        # One worker process: with several, gunicorn's keep-alive connections stick to whichever
        # worker accepted them, and how they happen to split decides the figure more than the
        # router does (direct runs swing between 5k and 15k req/s on two cores).
        bench.supervisor.deploy(bench.spec(1, "socket", web=gunicorn(workers=1, threads=16)),
                                {"web": 1}, [HOST])
        direct_url = f"http://{bench.direct_address()}/"
        routed_url = f"http://127.0.0.1:{bench.router_port}/"
        wrk(direct_url)  # warm both paths up
        wrk(routed_url, HOST)
        direct: list[float] = []
        routed: list[float] = []
        errors = 0
        app_pids = group_pids(next(iter(bench.supervisor.apps["bench"].procs.values())).popen.pid)
        caddy = [bench.router.proc.pid] if bench.router.proc else []
        cpu = {"direct": [0.0, 0.0], "routed": [0.0, 0.0]}  # app, router CPU seconds
        for _ in range(ROUNDS):
            for name, url, host, rates in (("direct", direct_url, None, direct),
                                           ("routed", routed_url, HOST, routed)):
                app0, caddy0 = cpu_seconds(app_pids), cpu_seconds(caddy)
                rate, err = wrk(url, host)
                if err:
                    print(f"  {name} run: {err} errors")
                cpu[name][0] += cpu_seconds(app_pids) - app0
                cpu[name][1] += cpu_seconds(caddy) - caddy0
                rates.append(rate)
                errors += err
    best_direct, best_routed = max(direct), max(routed)
    print(f"router benchmark: wrk -t1 -c{CONNECTIONS} -d{SECONDS}s GET /, "
          f"best of {ROUNDS} alternating runs, one gunicorn gthread worker, 16 threads")
    print(f"  direct to gunicorn (peer)  {best_direct:9.0f} req/s   "
          f"runs: {', '.join(f'{r:.0f}' for r in direct)}")
    print(f"  through Roost's router     {best_routed:9.0f} req/s   "
          f"runs: {', '.join(f'{r:.0f}' for r in routed)}")
    ratio = best_routed / best_direct
    per_round = statistics.median(r / d for d, r in zip(direct, routed, strict=True))
    print(f"  routed / direct, best      {ratio:9.0%}   (target >= 70%)")
    print(f"  routed / direct, median of rounds {per_round:.0%}   errors: {errors}")
    for name, rates in (("direct", direct), ("routed", routed)):
        requests = sum(rates) * SECONDS
        app_us, router_us = (c / requests * 1e6 for c in cpu[name])
        print(f"  CPU per request, {name}: app {app_us:5.0f} us, router {router_us:5.0f} us "
              f"(on {os.cpu_count()} cores, shared with wrk and anything else running)")


if __name__ == "__main__":
    main()
