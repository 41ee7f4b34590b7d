"""Benchmark: each dashboard page's server time with 200 apps, 10,000 monitors and a week of
perf data, measured through a real browser (target: p95 < 150 ms per page).

The store is seeded directly (bench/dashboard_seed.py); the control plane runs under uvicorn
as `roost up` serves it; Debian's Chromium, driven by Playwright, loads each page
``--loads`` times (spread over the apps) and the server time of each load is read from
Navigation Timing (``responseEnd - requestStart``). The peer, measured in the same run, is
the JSON API call the CLI makes for the same data (httpx, same server).

    PYTHONPATH=. /work/main/.venv/bin/python bench/dashboard.py [--loads 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_MS = 150.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# page name -> (dashboard path, the CLI's API call for the same data); {a} is an app name
PAGES = {
    "apps overview": ("/", "/api/v1/apps"),
    "app overview": ("/apps/{a}", "/api/v1/apps/{a}"),
    "releases": ("/apps/{a}/releases", "/api/v1/apps/{a}/releases"),
    "processes": ("/apps/{a}/processes", "/api/v1/apps/{a}/ps"),
    "config": ("/apps/{a}/config", "/api/v1/apps/{a}/config"),
    "logs": ("/apps/{a}/logs", None),
    "builds": ("/apps/{a}/builds", "/api/v1/apps/{a}/builds"),
    "perf 1h": ("/apps/{a}/perf?since=1h", "/api/v1/apps/{a}/perf?since=1h"),
    "perf 7d": ("/apps/{a}/perf?since=7d", "/api/v1/apps/{a}/perf?since=7d"),
    "endpoint 7d": ("/apps/{a}/perf?since=7d&endpoint=GET%20/things/3/%7Bid%7D",
                    "/api/v1/apps/{a}/perf/endpoint?since=7d&name=GET%20/things/3/%7Bid%7D"),
    "vulns": ("/apps/{a}/vulns", "/api/v1/apps/{a}/vulns"),
    "uptime": ("/apps/{a}/uptime", "/api/v1/monitors?app={a}"),
    "status page": ("/status/{a}", None),
}


def serve(home: str, port: int) -> None:
    """The control plane on the seeded store (as `roost up` serves it, without the runtime)."""
    import uvicorn

    from roost.api.app import create_app
    from roost.orchestration.platform import open_platform
    from roost.settings import load_settings

    os.environ["ROOST_HOME"] = home
    ctx = open_platform(load_settings())
    uvicorn.run(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")


def prepare(home: Path) -> dict[str, object]:
    """Seed a fresh store and make an API token; return what the pages need."""
    from bench.dashboard_seed import seed
    from roost.core import tokens
    from roost.orchestration.platform import open_platform
    from roost.settings import load_settings

    os.environ["ROOST_HOME"] = str(home)
    ctx = open_platform(load_settings())
    made = seed(ctx)
    with ctx.sessions.begin() as session:
        made["token"] = tokens.create(session, "bench")
    ctx.engine.dispose()
    return made


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used so far, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(url: str, token: str, names: list[str], loads: int, pid: int
            ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Server time of each load of each page, in ms, from the browser's Navigation Timing;
    and the server's CPU time per load (loads are sequential, so the machine's other work
    does not count there)."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.goto(url + "/")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Log in").click()
        try:
            page.wait_for_selector("#apps")
        except Exception as exc:  # say what the browser shows instead
            raise SystemExit(f"login failed; the page shows: "
                             f"{page.locator('body').inner_text()[:300]!r}") from exc
        for name, (path, _) in PAGES.items():
            times[name] = []
            used = 0.0
            for i in range(loads + 2):  # two warm-up loads
                before = cpu_ms(pid)
                app = names[(i * 37) % len(names)]
                response = page.goto(url + path.format(a=app))
                assert response is not None and response.status == 200, (name, response)
                server = page.evaluate("""() => { const n = performance
                    .getEntriesByType('navigation')[0]; return n.responseEnd - n.requestStart; }""")
                if i >= 2:
                    times[name].append(float(server))
                    used += cpu_ms(pid) - before
            cpu[name] = used / loads
        browser.close()
    return times, cpu


def peer(url: str, token: str, names: list[str], loads: int) -> dict[str, list[float]]:
    """The same data through the JSON API the CLI calls."""
    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        for name, (_, api) in PAGES.items():
            if api is None:
                continue
            times[name] = []
            for i in range(loads + 2):
                start = time.perf_counter()
                r = client.get(api.format(a=names[(i * 37) % len(names)]))
                took = (time.perf_counter() - start) * 1000
                assert r.status_code == 200, (name, r.text[:200])
                if i >= 2:
                    times[name].append(took)
    return times


def main() -> None:
    """Seed, serve, measure, print one line per page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20, help="loads per page (bounded)")
    parser.add_argument("--keep", type=Path, help="seed into (or reuse) this directory")
    args = parser.parse_args()
    loads = max(1, min(args.loads, 200))
    with tempfile.TemporaryDirectory(prefix="roost-bench-dash-") as tmp:
        home = args.keep or Path(tmp) / "home"
        seeded = home / "seeded.json"
        started = time.monotonic()
        if seeded.exists():
            made = json.loads(seeded.read_text())
        else:
            made = prepare(home)
            seeded.write_text(json.dumps(made))
        print(f"seeded 200 apps, 10,000 monitors, a week of perf data in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        from tests.conftest import free_port

        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        server = subprocess.Popen([sys.executable, "-c", "import bench.dashboard as b; "
                                   f"b.serve({str(home)!r}, {port})"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180  # a loaded machine opens a big store slowly
            while True:
                try:
                    httpx.get(url + "/api/v1/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the control plane did not start") from None
                    time.sleep(0.2)
            names = list(made["apps"])  # type: ignore[call-overload]
            pages, cpu = measure(url, str(made["token"]), names, loads, server.pid)
            api = peer(url, str(made["token"]), names, loads)
        finally:
            server.terminate()
            server.wait(timeout=30)
    worst = 0.0
    print(f"{'page':<14} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>7}   "
          "peer: CLI's API call p50/p95 ms")
    for name, values in pages.items():
        p50, p95 = statistics.median(values), pct(values, 0.95)
        worst = max(worst, p95)
        other = api.get(name)
        tail = (f"{statistics.median(other):8.1f} {pct(other, 0.95):8.1f}  "
                f"(page/API p95 {p95 / max(pct(other, 0.95), 0.01):.1f}x)" if other else
                "       -        -")
        print(f"{name:<14} {p50:8.1f} {p95:8.1f} {cpu[name]:7.1f}   {tail}")
    verdict = "meets" if worst < TARGET_MS else "MISSES"
    print(json.dumps({"loads_per_page": loads, "worst_p95_ms": round(worst, 1),
                      "target_p95_ms": TARGET_MS, "load_average": os.getloadavg()[0],
                      "cpus": os.cpu_count()}) + f"  {verdict} the target")


if __name__ == "__main__":
    main()
