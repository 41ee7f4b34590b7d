"""A throw-away PostgreSQL cluster started by a test (for settings the shared server must
not get, like WAL archiving)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roost.addons.postgres.server import Server, find_bin_dir
from tests.conftest import free_port

OS_USER = "postgres" if os.geteuid() == 0 else None


def as_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: its tools run as the postgres user then."""
    return ["runuser", "-u", OS_USER, "--", *args] if OS_USER else args


@dataclass
class Cluster:
    """A cluster's data directory, socket directory and admin server."""

    data: Path
    sockets: Path
    server: Server

    def start(self, settings: dict[str, str] | None = None) -> None:
        """Write ``settings`` into postgresql.conf and start the server."""
        with (self.data / "postgresql.conf").open("a") as fh:
            for key, value in (settings or {}).items():
                fh.write(f"{key} = '{value}'\n")
        assert self.server.bin_dir is not None
        subprocess.run(as_user([str(self.server.bin_dir / "pg_ctl"), "-D", str(self.data), "-w",
                                "-l", str(self.sockets / "server.log"), "-o",
                                f"-p {self.server.port} -k {self.sockets} "
                                "-c listen_addresses=127.0.0.1", "start"]),
                       check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop the server at once."""
        assert self.server.bin_dir is not None
        subprocess.run(as_user([str(self.server.bin_dir / "pg_ctl"), "-D", str(self.data), "-m",
                                "immediate", "stop"]), check=False, capture_output=True)


def new_cluster(root: Path) -> Cluster:
    """initdb a cluster under ``root`` (which the postgres user must be able to reach)."""
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    data, sockets = root / "data", root / "sockets"
    for path in (data, sockets):
        path.mkdir(parents=True)
        if OS_USER:
            shutil.chown(path, OS_USER)
    subprocess.run(as_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A",
                            "trust", "-E", "UTF8"]), check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    server = Server(admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
                    host="127.0.0.1", port=port, bin_dir=bin_dir)
    return Cluster(data=data, sockets=sockets, server=server)
