"""Benchmark: requests per second to an app directly and through the router (Caddy).

The same keep-alive load (several client processes, HTTP/1.1, bounded in time) is sent
first straight to the app's socket, then through the router with the app's Host header.
Target: through the router at least 70 % of direct.

    PYTHONPATH=. .venv/bin/python bench/router.py [--seconds 10] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._runtime_fixture import Bench  # noqa: E402


def client(host: str, port: int, vhost: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Send GETs on one keep-alive connection until time is up; report ok and failed."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    done = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn.request("GET", "/", headers={"Host": vhost})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                done += 1
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
    out.put((done, failed))


def measure(port: int, vhost: str, clients: int, seconds: float) -> tuple[float, int]:
    """Requests per second and failures over ``clients`` processes."""
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=client, args=("127.0.0.1", port, vhost, seconds, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 30) for _ in procs]
    for p in procs:
        p.join()
    return sum(r[0] for r in results) / seconds, sum(r[1] for r in results)


def main() -> None:
    """Measure direct and routed throughput in one run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    bench = Bench(workers=2, threads=8)
    try:
        bench.supervisor.deploy(bench.spec(1, "socket"), {"web": 1}, ["bench.localhost"])
        state = bench.supervisor.apps["bench"]
        app_port = int((state.shared_address or ":0").rpartition(":")[2])
        measure(app_port, "bench.localhost", args.clients, 2.0)  # warm-up
        direct, f1 = measure(app_port, "bench.localhost", args.clients, args.seconds)
        routed, f2 = measure(bench.port, "bench.localhost", args.clients, args.seconds)
    finally:
        bench.close()
    print(f"direct to the app  : {direct:8.0f} req/s  ({f1} failed)")
    print(f"through the router : {routed:8.0f} req/s  ({f2} failed)")
    print(f"router/direct      : {routed / direct * 100:6.1f} %  (target >= 70 %; "
          "2 cores shared by clients, Caddy and gunicorn)")


if __name__ == "__main__":
    main()
