"""A private PostgreSQL cluster for a benchmark: initdb into a directory, start it on a free
loopback port, stop it fast."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import free_port


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run the server's tools as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def initdb(root: Path, bin_dir: Path) -> Path:
    """Create a cluster's data directory under ``root`` (trust logins, UTF-8)."""
    data = root / "data"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                "-A", "trust", "-E", "UTF8"]), check=True,
                   stdout=subprocess.DEVNULL)
    return data


def start(root: Path, data: Path, bin_dir: Path, options: str = "",
          port: int | None = None) -> int:
    """Start the cluster in ``data`` on 127.0.0.1 (its socket in ``root``); its port."""
    port = port or free_port()
    subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                                str(root / "server.log"), "-o",
                                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {options}",
                                "start"]), check=True, stdout=subprocess.DEVNULL)
    return port


def stop(data: Path, bin_dir: Path) -> None:
    """Stop the cluster fast."""
    subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                "stop"]), check=False, stdout=subprocess.DEVNULL)
