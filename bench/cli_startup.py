"""CLI start-up benchmark: how long `roost` takes to answer, beside `git --version`.

Runs, 20 times each and interleaved so that a burst of load elsewhere on the machine
hits every command alike: `roost --help`; `roost apps` against a real `roost up` (started
here on free 127.0.0.1 ports with a temporary ROOST_HOME, holding three apps); `roost
apps` when nothing listens at the configured address; and `git --version`, the floor
(a small native program). Each figure is wall clock from spawn to exit of the installed
`roost` command, median and p90, with the median CPU time (user + system) beside it:
CPU time varies less than wall clock on a shared machine, and the load average is printed
too. The commands run with Python's bytecode cache on (written by the warm-up run), as an
installed roost has it, even where PYTHONDONTWRITEBYTECODE is set. Target: a median under
0.25 s for each `roost` command.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.conftest import ROOST, start_server, stop_server

RUNS = int(os.environ.get("RUNS", "20"))
TARGET = 0.25


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``argv`` once: its wall-clock seconds, CPU seconds and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    code = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


def measure(cases: dict[str, tuple[list[str], dict[str, str], int]]
            ) -> dict[str, tuple[list[float], list[float]]]:
    """Run every case RUNS times, round robin, after one warm-up run each; check exit codes."""
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cases}
    for round_ in range(RUNS + 1):
        for name, (argv, env, expected) in cases.items():
            wall, cpu, code = timed(argv, env)
            if code != expected:
                raise SystemExit(f"{name} exited {code}, expected {expected}")
            if round_:
                results[name][0].append(wall)
                results[name][1].append(cpu)
    return results


def main() -> None:
    """Start a server, time the commands, print the table."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-cli-") as tmp:
        server = start_server(Path(tmp))
        try:
            for name in ("shop", "blog", "api"):
                subprocess.run([ROOST, "apps", "create", name], env=server.env, check=True,
                               capture_output=True)
            env = {k: v for k, v in server.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
            down = {**env, "ROOST_API_URL": f"http://127.0.0.1:{free_port()}",
                    "ROOST_TOKEN": "x"}
            cases = {
                "git --version (floor)": (["git", "--version"], env, 0),
                "roost --help": ([ROOST, "--help"], env, 0),
                "roost apps (server up, 3 apps)": ([ROOST, "apps"], env, 0),
                "roost apps (server down)": ([ROOST, "apps"], down, 1),
            }
            results = measure(cases)
            load = os.getloadavg()[0]
        finally:
            stop_server(server)
    floor = statistics.median(results["git --version (floor)"][0])
    print(f"CLI start-up, {RUNS} runs each, wall clock (CPU = user + system), "
          f"target: median < {TARGET} s; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'command':34} {'median':>8} {'p90':>8} {'CPU':>8} {'x floor':>8}")
    for name, (walls, cpus) in results.items():
        median = statistics.median(walls)
        p90 = statistics.quantiles(walls, n=10)[8]
        verdict = "" if name.startswith("git") else ("  ok" if median < TARGET else "  OVER")
        print(f"{name:34} {median:7.3f}s {p90:7.3f}s {statistics.median(cpus):7.3f}s "
              f"{median / floor:7.0f}x{verdict}")


if __name__ == "__main__":
    main()
