"""Benchmark: two control-plane hosts on one PostgreSQL; SIGKILL the one that pages.

Two real `roost up` processes share a private PostgreSQL cluster. 1,000 HTTP monitors at a
60 s interval are spread over the two (each instance is a probe); one more monitor watches a
port where nothing listens, so an outage opens, is confirmed by the second instance and
paged (to a stand-in of Twilio's Messages API). Then the instance holding the paging lease is
SIGKILLed. Targets: every monitor is checked again within one interval of the kill, and the
open outage has been paged exactly once; the survivor's API keeps answering.

    PYTHONPATH=. .venv/bin/python bench/failover.py [--monitors 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import pg_local
from roost.addons.postgres.server import find_bin_dir
from tests.conftest import free_port
from tests.notify.receivers import Receiver

MONITORS, INTERVAL, OUTAGE_INTERVAL = 1000, 60.0, 10.0
PHONE = "+15550100042"
ROOST = str(Path(sys.executable).with_name("roost"))
HERE = Path(__file__).resolve().parents[1]


def start_roost(tmp: Path, name: str, db_url: str, sms_url: str) -> dict[str, Any]:
    """Start one `roost up` instance named ``name``; wait until it answers."""
    home = tmp / name
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(home), "ROOST_LISTEN": f"127.0.0.1:{port}",
                "ROOST_ROUTER_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_DATABASE_URL": db_url, "ROOST_SMS_URL": sms_url,
                "ROOST_INSTANCE_NAME": name, "ROOST_ADVISORY_SOURCES": "",
                "PYTHONPATH": str(HERE)})
    log = (tmp / f"{name}.log").open("wb")
    proc = subprocess.Popen([ROOST, "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"roost up {name} exited: {(tmp / f'{name}.log').read_text()}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    token = json.loads((home / "credentials.json").read_text())["token"]
    return {"name": name, "proc": proc, "url": url, "env": env,
            "headers": {"Authorization": f"Bearer {token}"}}


def populate(db_url: str, port: int, dead_port: int, count: int) -> None:
    """``count`` monitors on a live target, one on a dead port for the app ``down``."""
    from sqlalchemy import insert

    from roost.store.base import utcnow
    from roost.store.models.uptime import Monitor
    from roost.store.session import make_engine

    common = {"kind": "http", "method": "GET", "headers": {}, "expected_status": [],
              "follow_redirects": True, "verify_tls": True, "tls_warn_days": 14,
              "confirm_failures": 2, "confirm_successes": 2, "owner": "user",
              "paused": False, "created_at": utcnow(), "state": "unknown", "history": "",
              "fail_streak": 0, "ok_streak": 0, "flapping": False, "timeout_s": 5.0}
    rows = [{**common, "app_name": f"app{n % 100}", "interval_s": INTERVAL,
             "target": f"http://127.0.0.1:{port}/app{n}/health"} for n in range(count)]
    rows.append({**common, "app_name": "down", "interval_s": OUTAGE_INTERVAL,
                 "target": f"http://127.0.0.1:{dead_port}/health"})
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(insert(Monitor), rows)
    engine.dispose()


def checked_since(db_url: str, since: datetime) -> tuple[int, float | None]:
    """How many monitors have a check after ``since``, and the latest of their first checks
    after it (seconds after ``since``)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT monitor_id, min(at) FROM uptime_results "
                            "WHERE at > %s GROUP BY monitor_id", (since,)).fetchall()
    latest = max(((at - since).total_seconds() for _, at in rows), default=None)
    return len(rows), latest


def wait(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.5 s for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise SystemExit(f"gave up waiting for {what} after {timeout:.0f} s")


def main() -> None:
    """Run the failover and print its figures against the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=MONITORS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-failover-"))
    os.chmod(tmp, 0o755)  # the postgres user reaches its socket directory inside
    bin_dir = find_bin_dir()
    data = pg_local.initdb(tmp / "pg", bin_dir)
    pg_port = pg_local.start(tmp / "pg", data, bin_dir, "-c max_connections=200")
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
                         autocommit=True) as conn:
        conn.execute("CREATE DATABASE roost")
    db_url = f"postgresql://postgres@127.0.0.1:{pg_port}/roost"
    receiver = Receiver().start()
    port, dead_port = free_port(), free_port()
    target = subprocess.Popen([sys.executable, str(HERE / "bench" / "uptime.py"),
                               "--serve", str(port)], env={**os.environ, "PYTHONPATH": str(HERE)})
    hosts: list[dict[str, Any]] = []
    try:
        hosts.append(start_roost(tmp, "alpha", db_url, receiver.sms_url))
        hosts.append(start_roost(tmp, "beta", db_url, receiver.sms_url))
        alpha = hosts[0]
        for argv in (["apps", "create", "down"],
                     ["maintainers", "add", "down", "--name", "Ada", "--phone", PHONE]):
            subprocess.run([ROOST, *argv], env=alpha["env"], check=True,
                           stdout=subprocess.DEVNULL)
        populate(db_url, port, dead_port, args.monitors)
        print(f"{args.monitors} HTTP monitors at {INTERVAL:.0f} s + 1 outage at "
              f"{OUTAGE_INTERVAL:.0f} s, two roost up on one PostgreSQL; "
              f"{os.cpu_count()} cores", flush=True)
        started = datetime.now(UTC)
        wait(lambda: checked_since(db_url, started)[0] >= args.monitors + 1, INTERVAL + 60,
             "every monitor's first check")
        wait(lambda: len(receiver.to(PHONE)) >= 1, 120, "the outage's page")

        def holders() -> dict[str, list[str]]:
            found = httpx.get(alpha["url"] + "/api/v1/instances", headers=alpha["headers"],
                              timeout=10).json()
            return {i["name"]: i["holds"] for i in found}

        wait(lambda: any("paging" in held for held in holders().values()), 30, "a pager")
        pager = next(n for n, held in holders().items() if "paging" in held)
        victim = next(h for h in hosts if h["name"] == pager)
        survivor = next(h for h in hosts if h["name"] != pager)
        killed = datetime.now(UTC)
        os.killpg(victim["proc"].pid, signal.SIGKILL)
        victim["proc"].wait()
        time.sleep(INTERVAL + 2)  # one whole interval (plus the check's own time)
        covered, latest = checked_since(db_url, killed)
        api = httpx.get(survivor["url"] + "/api/v1/apps", headers=survivor["headers"],
                        timeout=10).status_code
        after = holders_of(survivor)
    finally:
        for host in hosts:
            if host["proc"].poll() is None:
                os.killpg(host["proc"].pid, signal.SIGTERM)
                host["proc"].wait(60)
        target.kill()
        receiver.stop()
        # The killed instance's router and resolver outlive it by design (they keep serving
        # its apps); nothing restarts it here, so they are ended with the run.
        subprocess.run(["pkill", "-f", str(tmp)], check=False)
        pg_local.stop(data, bin_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    pages = len(receiver.to(PHONE))
    print(f"killed          {pager} (it held paging); {survivor['name']} now runs: "
          f"{', '.join(after) or '-'}")
    print(f"re-checked      {covered}/{args.monitors + 1} monitors within one interval "
          f"({INTERVAL:.0f} s) of the kill (target: all); the last first re-check "
          f"{latest or 0:.1f} s after it")
    print(f"paged           the open outage {pages} time(s) (target: exactly 1)")
    print(f"survivor API    GET /apps answered {api} (target: 200)")


def holders_of(host: dict[str, Any]) -> list[str]:
    """The run-once work ``host`` holds, by its own account."""
    found = httpx.get(host["url"] + "/api/v1/instances", headers=host["headers"],
                      timeout=10).json()
    return next((i["holds"] for i in found if i["this"]), [])


if __name__ == "__main__":
    main()
