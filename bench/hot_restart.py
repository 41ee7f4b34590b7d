"""Benchmark: requests through the router while an app is redeployed 20 times in a row.

A constant-rate mix of keep-alive GETs, new-connection GETs, POSTs with bodies and a few
slow requests, once in socket mode and once in port mode. Prints requests sent, failed
(any non-2xx or connection error), and p50/p99 latency during swaps against steady state.
Targets: 0 failed in both modes; p99 during swaps at most 2x steady state.

    PYTHONPATH=. .venv/bin/python bench/hot_restart.py [--deploys 20] [--rate 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._runtime_fixture import Bench  # noqa: E402

KINDS = ("keepalive", "keepalive", "fresh", "post", "slow")


class Load:
    """Constant-rate requests from several threads; each result is timestamped."""

    def __init__(self, url: str, host: str, rate: float) -> None:
        self.url, self.host, self.rate = url, host, rate
        self.results: list[tuple[float, float, bool, str]] = []  # at, latency, ok, kind
        self.reconnects = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _send(self, client: httpx.Client, kind: str) -> httpx.Response:
        h = {"Host": self.host}
        if kind == "fresh":
            return httpx.get(self.url + "/", headers=h, timeout=15)
        if kind == "post":
            return client.post(self.url + "/", headers=h, content=b"x" * 4096)
        return client.get(self.url + ("/slow" if kind == "slow" else "/"), headers=h)

    def worker(self, kind: str, rate: float) -> None:
        client = httpx.Client(timeout=15)
        period = 1.0 / rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            next_at += period
            start = time.monotonic()
            ok, why = True, ""
            try:
                try:
                    r = self._send(client, kind)
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    # The router's reload closed an idle keep-alive connection; nothing was
                    # processed, so the request is resent at once, as browsers do.
                    text = str(exc)
                    if kind == "fresh" or not ("without sending a response" in text
                                               or "Connection reset by peer" in text):
                        raise
                    with self.lock:
                        self.reconnects += 1
                    r = self._send(client, kind)
                ok = r.status_code == 200
                why = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, why = False, repr(exc)
            with self.lock:
                self.results.append((start, time.monotonic() - start, ok, why if not ok
                                     else kind))
            time.sleep(max(0.0, next_at - time.monotonic()))

    def run(self) -> list[threading.Thread]:
        threads = []
        per_kind = self.rate / len(KINDS)
        for i, kind in enumerate(KINDS):
            rate = per_kind / 4 if kind == "slow" else per_kind
            t = threading.Thread(target=self.worker, args=(kind, rate), daemon=True,
                                 name=f"load-{kind}-{i}")
            t.start()
            threads.append(t)
        return threads


def pct(values: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def run_mode(mode: str, deploys: int, rate: float, steady_s: float) -> dict[str, float]:
    bench = Bench(workers=3)
    try:
        sup = bench.supervisor
        sup.deploy(bench.spec(1, mode), {"web": 2}, ["bench.localhost"])
        load = Load(f"http://127.0.0.1:{bench.port}", "bench.localhost", rate)
        threads = load.run()
        time.sleep(steady_s)  # steady state before the swaps (a measured window)
        windows = []
        for n in range(2, deploys + 2):
            t0 = time.monotonic()
            sup.deploy(bench.spec(n, mode), {"web": 2}, ["bench.localhost"])
            windows.append((t0, time.monotonic() + 1.0))  # include the drain second
        time.sleep(1.5)
        load.stop.set()
        for t in threads:
            t.join(timeout=20)
        first_swap = windows[0][0]
        steady = [lat for at, lat, ok, k in load.results if at < first_swap and k != "slow"]
        swaps = [lat for at, lat, ok, k in load.results
                 if any(a <= at <= b for a, b in windows) and k != "slow"]
        failed = [k for _, _, ok, k in load.results if not ok]
        print(f"{mode:6} mode: {deploys} deploys, sent {len(load.results)}, failed {len(failed)}"
              f", resent after router reload {load.reconnects}")
        print(f"        steady p50 {pct(steady, 50):6.1f} ms  p99 {pct(steady, 99):6.1f} ms"
              f"   during swaps p50 {pct(swaps, 50):6.1f} ms  p99 {pct(swaps, 99):6.1f} ms"
              f"   (p99 ratio {pct(swaps, 99) / pct(steady, 99):.2f}x, target <= 2x)")
        if failed:
            print("        first failures:", failed[:5])
        return {"failed": len(failed)}
    finally:
        bench.close()


def main() -> None:
    """Run both modes and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=20)
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second")
    parser.add_argument("--steady", type=float, default=8.0, help="seconds before the swaps")
    args = parser.parse_args()
    print("peer: Dokku and Coolify report failed requests at the proxy switch "
          "(Dokku #5627, Coolify #8627: 18-31 s of 502/503); target here is 0")
    for mode in ("socket", "port"):
        run_mode(mode, args.deploys, args.rate, args.steady)


if __name__ == "__main__":
    main()
