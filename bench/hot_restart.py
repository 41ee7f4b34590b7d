"""Hot-restart benchmark: constant load through the router while an app is redeployed 20 times.

Load (open loop, fixed rate, through Caddy to a gunicorn gthread app with web=2):
keep-alive GETs, GETs on a new connection each, POSTs with an 8 KiB
body and a few slow (300 ms) GETs. Once in socket mode, once in port mode. A request fails on
any non-2xx answer or connection error; nothing is retried by the client. Latency is split
by when a request started: during a swap (from the deploy call until a second after it
returns, while the old generation drains) or in steady state (before and after the swaps).
The peer figure is the steady state of the same run. Targets: 0 failed in both modes, p99
during swaps <= 2x steady-state p99.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.runtime_common import HOST, Bench, bench_platform

DEPLOYS = int(os.environ.get("DEPLOYS", "20"))
STEADY_BEFORE = 8.0
STEADY_AFTER = 5.0
SWAP_TAIL = 1.0
RATES = {"keepalive": 40.0, "fresh": 20.0, "post": 20.0, "slow": 2.0}  # requests per second
BODY = b"x" * 8192


@dataclass
class Sample:
    """One request: when it started, how long it took, and how it ended."""

    kind: str
    start: float
    seconds: float
    error: str | None
    release: str = ""


@dataclass
class Run:
    """Everything one mode's run recorded."""

    samples: list[Sample] = field(default_factory=list)
    swaps: list[tuple[float, float]] = field(default_factory=list)
    deploy_seconds: list[float] = field(default_factory=list)
    roost_cpu: float = 0.0  # CPU seconds of the supervisor's process over all deploys

    def during_swap(self, t: float) -> bool:
        """Whether a request starting at ``t`` overlapped a swap."""
        return any(a <= t <= b + SWAP_TAIL for a, b in self.swaps)


async def one(client: httpx.AsyncClient, kind: str, base: str,
              samples: list[Sample]) -> None:
    """Send one request of ``kind`` and record it."""
    start = time.monotonic()
    headers = {"Host": HOST}
    error: str | None = None
    release = ""
    try:
        if kind == "post":
            r = await client.post(base + "/", content=BODY, headers=headers)
        elif kind == "fresh":
            r = await client.get(base + "/", headers=headers)
        else:
            r = await client.get(base + ("/slow" if kind == "slow" else "/"), headers=headers)
        if r.status_code // 100 != 2:
            error = f"HTTP {r.status_code}"
        else:
            release = r.text.split()[0]
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:120]
    samples.append(Sample(kind, start, time.monotonic() - start, error, release))


async def load(base: str, samples: list[Sample], stop: asyncio.Event) -> None:
    """Fire requests at the fixed rates until ``stop`` is set."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    # "fresh" requests get a client that never keeps a connection, so each is a new one.
    async with httpx.AsyncClient(timeout=30, limits=limits) as keep, \
            httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
                              ) as fresh:
        pending: set[asyncio.Task[None]] = set()

        async def pace(kind: str, rate: float) -> None:
            due = time.monotonic()
            while not stop.is_set():
                due += 1 / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                client = fresh if kind == "fresh" else keep
                task = asyncio.create_task(one(client, kind, base, samples))
                pending.add(task)
                task.add_done_callback(pending.discard)

        await asyncio.gather(*(pace(k, r) for k, r in RATES.items()))
        await asyncio.gather(*list(pending))


def load_process(base: str, stop: Any, out: Any) -> None:
    """The load generator's own process: the system under test never shares its CPU time
    slices or GIL with the client (CLOCK_MONOTONIC is system-wide, so times compare)."""

    async def main() -> None:
        samples: list[Sample] = []
        flag = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            flag.set()

        await asyncio.gather(load(base, samples, flag), watch())
        out.send([(s.kind, s.start, s.seconds, s.error, s.release) for s in samples])

    asyncio.run(main())


def scenario(bench: Bench, mode: str) -> Run:
    """Deploy v1, then redeploy DEPLOYS times under load from a separate process."""
    app = f"bench-{mode}"
    sup = bench.supervisor
    sup.deploy(bench.spec(1, mode, app=app), {"web": 2}, [HOST])
    run = Run()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    loader = ctx.Process(target=load_process,
                         args=(f"http://127.0.0.1:{bench.router_port}", stop, send))
    loader.start()
    time.sleep(STEADY_BEFORE)
    cpu = time.process_time()
    for release in range(2, DEPLOYS + 2):
        spec = bench.spec(release, mode, app=app)
        began = time.monotonic()
        sup.deploy(spec, {"web": 2}, [HOST])
        ended = time.monotonic()
        run.swaps.append((began, ended))
        run.deploy_seconds.append(ended - began)
    time.sleep(SWAP_TAIL + STEADY_AFTER)
    run.roost_cpu = time.process_time() - cpu  # includes draining the last generation
    stop.set()
    run.samples = [Sample(*row) for row in receive.recv()]
    loader.join()
    sup.remove(app)
    return run


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) in milliseconds."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def report(mode: str, run: Run, target: float = 2.0) -> None:
    """Print one mode's figures (``target``: the issue's bound on the p99 ratio)."""
    failed = [s for s in run.samples if s.error]
    fast = [s for s in run.samples if s.kind != "slow"]
    swap = [s.seconds for s in fast if run.during_swap(s.start)]
    steady = [s.seconds for s in fast if not run.during_swap(s.start)]
    releases = {s.release for s in run.samples if s.release}
    p99_swap, p99_steady = pct(swap, 99), pct(steady, 99)
    print(f"{mode} mode: {DEPLOYS} deploys (median {statistics.median(run.deploy_seconds):.2f}s "
          f"each), {len(run.samples)} requests sent, {len(failed)} failed, "
          f"{len(releases)} releases answered, supervisor CPU "
          f"{run.roost_cpu / DEPLOYS * 1000:.0f} ms per deploy")
    print(f"  steady state  n={len(steady):5d}  p50 {pct(steady, 50):6.1f} ms  "
          f"p99 {p99_steady:6.1f} ms   (peer: the same run without swaps)")
    print(f"  during swaps  n={len(swap):5d}  p50 {pct(swap, 50):6.1f} ms  "
          f"p99 {p99_swap:6.1f} ms   ratio p99 {p99_swap / p99_steady:.2f}x "
          f"(target <= {target:g}x)")
    by_kind = collections.Counter(s.kind for s in run.samples)
    failed_kind = collections.Counter(s.kind for s in failed)
    print("  by kind: " + ", ".join(f"{k} {by_kind[k]} sent/{failed_kind[k]} failed"
                                    for k in RATES))
    for reason, count in collections.Counter(s.error for s in failed).most_common(5):
        print(f"    {count:4d} x {reason}")


def main() -> None:
    """Run both modes on one router and print their figures."""
    with bench_platform(grace=10.0) as bench:
        for mode in ("socket", "port"):
            report(mode, scenario(bench, mode))


if __name__ == "__main__":
    main()
