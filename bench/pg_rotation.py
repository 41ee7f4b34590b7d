"""Credential rotation under load: ROTATIONS (10) rotations of an app's database password
while wrk drives requests through the router, each of which logs in to the database anew
and runs a query.

The platform's parts are the real ones: Roost's own PostgreSQL cluster (the postgres
add-on provisions the app's database and its two alternating login roles), Caddy and the
supervisor (the hot restart), and :func:`roost.addons.postgres.rotation.rotate`, which gives
the standby role a new password, switches the app with a hot restart to a release whose
``DATABASE_URL`` uses it, and only then removes the old role's password. The app is a
gunicorn gthread app that connects on every request (so a retired password would fail at
once) and answers 500 when the database refuses it.

The peer is the same load on the same app with no rotation, measured in the same run.
Target: 0 failed requests during rotations.

    PYTHONPATH=. /work/main/.venv/bin/python bench/pg_rotation.py [--rotations 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.runtime_common import HOST, Bench, bench_platform, gunicorn
from roost.addons.base import AddonEnv
from roost.addons.postgres import rotation
from roost.addons.postgres.addon import PostgresAddon, cluster
from roost.objectstore import open_store
from roost.runtime.model import ReleaseSpec
from roost.settings import Settings
from roost.store.migrate import upgrade
from roost.store.session import make_engine, make_sessionmaker
from tests.conftest import free_port

APP = '''
import os, psycopg
RELEASE = os.environ.get("ROOST_RELEASE", "?")
URL = os.environ["DATABASE_URL"]

def app(environ, start_response):
    try:
        with psycopg.connect(URL, connect_timeout=5) as conn:
            user = conn.execute("SELECT session_user").fetchone()[0]
        status, out = "200 OK", f"{RELEASE} {user}"
    except psycopg.Error as exc:
        status, out = "500 Internal Server Error", str(exc)
    body = out.encode()
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))])
    return [body]
'''


def spec(bench: Bench, number: int, env: dict[str, str]) -> ReleaseSpec:
    """Release ``number`` of the database app with ``env``."""
    base = bench.spec(number, "socket", web=gunicorn(workers=2, threads=8))
    (base.directory / "app.py").write_text(APP)
    return dataclasses.replace(base, env={**env, "ROOST_RELEASE": f"v{number}"})


def wrk(url: str) -> tuple[float, int, int]:
    """One wrk run (-c32, 4 s, requests time out after 30 s): requests per second, non-2xx
    answers, socket errors."""
    out = subprocess.run(["wrk", "-t1", "-c32", "-d4s", "--timeout", "30s", "-H",
                          f"Host: {HOST}", url], capture_output=True, text=True,
                         check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(bad.group(1)) if bad else 0, errors


def load_until(url: str, done: threading.Event) -> tuple[list[float], int, int]:
    """wrk runs back to back until ``done`` is set: their rates and summed failures."""
    rates: list[float] = []
    non2xx = errors = 0
    while not done.is_set():
        rate, bad, failed = wrk(url)
        rates.append(rate)
        non2xx += bad
        errors += failed
    return rates, non2xx, errors


def main() -> None:
    """Provision, measure the steady peer, then rotate under load and print both."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rotations", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench installs it)")
    top = Path(tempfile.mkdtemp(prefix="roost-bench-pgrot-"))
    os.chmod(top, 0o755)  # the postgres user reaches its data directory through it
    settings = Settings(home=top / "home", pg_port=free_port(), sandbox="on")
    engine = make_engine(f"sqlite:///{top / 'roost.db'}")
    upgrade(engine)
    env = AddonEnv(settings=settings, sessions=make_sessionmaker(engine),
                   objects=open_store(f"file://{top / 'objects'}"))
    addon = PostgresAddon(env)
    try:
        state = addon.provision("bench", {"connections": "100"}).state
        with bench_platform() as bench:
            number = 1
            bench.supervisor.deploy(spec(bench, number, addon.config_vars("bench", state)),
                                    {"web": 1}, [HOST])
            url = f"http://127.0.0.1:{bench.router_port}/"
            wrk(url)  # warm up
            steady, steady_bad, steady_errors = wrk(url)

            done = threading.Event()
            took: list[float] = []

            def switch(fresh: dict[str, str]) -> None:
                nonlocal number
                number += 1
                bench.supervisor.deploy(spec(bench, number, addon.config_vars("bench", fresh)),
                                        {"web": 1}, [HOST])
                bench.supervisor.wait_drained("bench")  # as the API's rotation does

            def rotate_all() -> None:
                nonlocal state
                try:
                    time.sleep(1.0)  # the load is running before the first rotation
                    for _ in range(args.rotations):
                        began = time.monotonic()
                        state = rotation.rotate(settings, state, switch).state
                        took.append(time.monotonic() - began)
                finally:
                    done.set()

            rotator = threading.Thread(target=rotate_all)
            rotator.start()
            rates, bad, errors = load_until(url, done)
            rotator.join()
            if len(took) != args.rotations:
                sys.exit(f"only {len(took)} of {args.rotations} rotations finished")
            print(f"pg credential rotation under load (wrk -c32 through Caddy, an app that logs "
                  f"in to Roost's PostgreSQL on every request, {os.cpu_count()} cores)")
            print(f"  no rotation (peer):  {steady:5.0f} req/s, failed requests "
                  f"{steady_bad + steady_errors}")
            print(f"  {args.rotations} rotations:        {min(rates):5.0f}-{max(rates):.0f} req/s "
                  f"over {len(rates)} wrk runs, failed requests {bad + errors} (target 0; "
                  f"{bad} answered 500, {errors} socket errors)")
            print(f"  a rotation (new password, hot restart, old password removed): median "
                  f"{sorted(took)[len(took) // 2]:.1f} s; live role now "
                  f"{rotation.describe(state)['live']}")
    finally:
        cluster(settings).stop()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
