"""Database backup benchmark: Roost's capture and restore against pg_dump/pg_restore piped
through ``aws s3 cp``, on one moto S3 server, in one run.

A throw-away PostgreSQL cluster (Debian's binaries) gets a pgbench database
(``pgbench -i -s 70``: about 1 GB). Then, side by side:

- capture: ``roost.addons.postgres.backups.capture`` (pg_dump -Fc streamed to S3, plus the
  row counts and schema checksum it records) vs ``pg_dump -Fc | aws s3 cp - s3://...``;
- restore: ``backups.restore`` (S3 streamed into ``pg_restore -1 --clean --if-exists``) vs
  ``aws s3 cp s3://... - | pg_restore -1 --clean --if-exists``, each into an empty database.

Then a point-in-time restore (pgBackRest, repo on the local object store: it speaks HTTPS
only to S3) of the database as it was after a base backup, with its time printed.
Targets: both ratios <= 1.1x.

    PYTHONPATH=. /work/main/.venv/bin/python bench/pg_backup.py [--scale 70] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import psycopg

from bench import pg_local
from bench.assets import start_moto
from roost.addons.postgres import backups, pitr
from roost.addons.postgres.server import Server, find_bin_dir
from roost.objectstore import ObjectStore, open_store
from roost.store import models  # noqa: F401  (registers every model)
from roost.store.base import Base
from roost.store.session import make_engine, make_sessionmaker
from tests.conftest import free_port

CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
         "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
         "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
AWS = Path(sys.executable).with_name("aws")


def start_cluster(root: Path, bin_dir: Path, objects: ObjectStore
                  ) -> tuple[Server, Path, pitr.Pitr]:
    """initdb and start a cluster on a free loopback port that archives its WAL with
    pgBackRest into ``objects``; return it, its data dir and its stanza."""
    data = pg_local.initdb(root, bin_dir)
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    server = Server(admin_url=url, host="127.0.0.1", port=port, bin_dir=bin_dir)
    stanza = pitr.configure(root / "home", "bench", pitr.Cluster(
        server=server, data_dir=data, socket_dir=root,
        os_user="postgres" if os.geteuid() == 0 else None), objects)
    with (data / "postgresql.conf").open("a") as fh:
        fh.writelines(f"{k} = '{v}'\n" for k, v in pitr.archive_settings(stanza).items())
    pg_local.start(root, data, bin_dir, "-c shared_buffers=256MB -c max_wal_size=4GB", port)
    pitr.setup(stanza)
    return server, data, stanza


stop_cluster = pg_local.stop


def sql(server: Server, query: str, database: str = "postgres") -> object:
    """Run one statement; its first value, if any."""
    with psycopg.connect(server.url(database), autocommit=True) as conn:
        cur = conn.execute(query)  # type: ignore[arg-type]
        return cur.fetchone()[0] if cur.description else None  # type: ignore[index]


def shell(command: str, env: dict[str, str]) -> float:
    """Time a shell pipeline (``pipefail``: any failing stage fails it)."""
    start = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Build the database, run both tools side by side and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=70, help="pgbench scale (70 = ~1 GB)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat and keep the best")
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL not found: apt-get install postgresql")
    if not AWS.exists():
        sys.exit(f"awscli not found at {AWS}: uv pip install -r requirements-bench.lock")
    os.environ.update(CREDS)
    root = Path(tempfile.mkdtemp(prefix="roost-pgbench-"))
    os.chmod(root, 0o755)  # the postgres user reaches its data dir inside
    moto, endpoint = start_moto()
    # pgBackRest speaks HTTPS only to S3, so its repo is on the local object store here.
    server, data, stanza = start_cluster(root / "pg", bin_dir,
                                         open_store(f"file://{root / 'objects'}"))
    try:
        run(server, bin_dir, endpoint, root, args.scale, args.rounds)
        point_in_time(server, stanza)
    finally:
        stop_cluster(data, bin_dir)
        moto.terminate()
        moto.wait()
        shutil.rmtree(root, ignore_errors=True)


def run(server: Server, bin_dir: Path, endpoint: str, root: Path, scale: int,
        rounds: int) -> None:
    """The measured part."""
    env = {**os.environ, **CREDS}
    sql(server, "CREATE DATABASE bench")
    started = time.perf_counter()
    subprocess.run([str(bin_dir / "pgbench"), "-i", "-q", "-s", str(scale), "-d",
                    server.url("bench")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    size = int(str(sql(server, "SELECT pg_database_size('bench')")))
    print(f"database: pgbench -i -s {scale}: {size / 1e9:.2f} GB "
          f"(built in {time.perf_counter() - started:.0f} s)", flush=True)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in ("roost", "peer"):
        s3.create_bucket(Bucket=bucket)
    objects = open_store(f"s3://roost/store?endpoint_url={endpoint}")
    engine = make_engine(f"sqlite:///{root / 'roost.db'}")
    Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine)
    url = server.url("bench")
    aws = f"{AWS} --endpoint-url {endpoint} --only-show-errors"
    best = {"roost_capture": 1e9, "peer_capture": 1e9, "roost_restore": 1e9,
            "peer_restore": 1e9}
    record = None
    for n in range(rounds):
        peer = shell(f"{bin_dir}/pg_dump -Fc -d {url} | {aws} s3 cp - s3://peer/bench.dump",
                     env)
        start = time.perf_counter()
        record = backups.capture(server, "bench", objects, "bench", sessions=sessions)
        mine = time.perf_counter() - start
        best["peer_capture"] = min(best["peer_capture"], peer)
        best["roost_capture"] = min(best["roost_capture"], mine)
        print(f"round {n + 1} capture: roost {mine:.1f} s, pg_dump | aws s3 cp {peer:.1f} s "
              f"(dump {record.size / 1e6:.0f} MB)", flush=True)
        for name in ("r_peer", "r_roost"):
            sql(server, f"DROP DATABASE IF EXISTS {name}")
            sql(server, f"CREATE DATABASE {name}")
        peer = shell(f"{aws} s3 cp s3://peer/bench.dump - | {bin_dir}/pg_restore -1 --clean "
                     f"--if-exists --no-owner -d {server.url('r_peer')}", env)
        start = time.perf_counter()
        backups.restore(server, "r_roost", objects, record, confirm="bench")
        mine = time.perf_counter() - start
        best["peer_restore"] = min(best["peer_restore"], peer)
        best["roost_restore"] = min(best["roost_restore"], mine)
        print(f"round {n + 1} restore: roost {mine:.1f} s, aws s3 cp | pg_restore {peer:.1f} s",
              flush=True)
    restored = sql(server, "SELECT count(*) FROM pgbench_accounts", "r_roost")
    assert restored == scale * 100_000, restored
    cap = best["roost_capture"] / best["peer_capture"]
    res = best["roost_restore"] / best["peer_restore"]
    print(f"capture: roost {best['roost_capture']:7.1f} s   pg_dump -Fc | aws s3 cp -   "
          f"{best['peer_capture']:7.1f} s   ratio {cap:.2f}x (target <= 1.1x)")
    print(f"restore: roost {best['roost_restore']:7.1f} s   aws s3 cp - | pg_restore   "
          f"{best['peer_restore']:7.1f} s   ratio {res:.2f}x (target <= 1.1x)")
    objects.close()
    engine.dispose()


def point_in_time(server: Server, stanza: pitr.Pitr) -> None:
    """A base backup, then the database restored as it was at a time after it."""
    start = time.perf_counter()
    pitr.backup(stanza)
    based = time.perf_counter() - start
    window = pitr.window(stanza)
    assert window is not None
    time.sleep(max(0.0, (window[0] - datetime.now(UTC)).total_seconds() + 0.1))
    sql(server, "UPDATE pgbench_branches SET bbalance = bbalance + 1", "bench")
    when = datetime.now(UTC)
    sql(server, "DROP TABLE pgbench_history", "bench")
    sql(server, "DROP DATABASE IF EXISTS r_pitr")
    sql(server, "CREATE DATABASE r_pitr")
    start = time.perf_counter()
    pitr.restore_database(stanza, "bench", when, "bench", confirm="r_pitr",
                          into_database="r_pitr", into_app="r_pitr")
    took = time.perf_counter() - start
    assert sql(server, "SELECT to_regclass('pgbench_history') IS NOT NULL", "r_pitr") is True
    print(f"point-in-time restore: {took:.1f} s (pgBackRest restore into a scratch cluster, "
          f"WAL replay, dump and restore of the database); full base backup {based:.1f} s")


if __name__ == "__main__":
    main()
