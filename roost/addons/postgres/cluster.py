"""The Roost-managed PostgreSQL cluster: initdb, start and stop Debian's binaries.

Its data lives under ``ROOST_HOME/postgres/data``; it listens on 127.0.0.1 at
``ROOST_PG_PORT`` and on a unix socket in ``ROOST_HOME/postgres/run``. A major upgrade
(:mod:`roost.orchestration.pg_upgrade`) restores databases into another cluster,
``ROOST_HOME/postgres-vN``, run by version N's binaries on a port of its own (kept in its
``port`` file). When Roost runs as
root the cluster runs as the unprivileged ``postgres`` user (PostgreSQL refuses root).
The admin role ``roost`` logs in with a generated password kept in ``admin-password``, which
stays Roost's (root's) own: the postgres user owns only ``data``, ``run`` and ``log``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

from roost.addons.postgres.server import PG_LIB, Server, find_bin_dir
from roost.errors import InvalidInput, RuntimeFailure

ADMIN = "roost"
OS_USER = "postgres"

# conf.d files are read in name order, later ones win: 00-roost.conf holds Roost's defaults,
# and other parts (WAL archiving by the backups module) add their own with set_config.
CONFIG = """\
# Written by Roost at every start; put changes in another file of conf.d.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{run}'
max_connections = 200
password_encryption = 'scram-sha-256'
wal_level = replica
archive_mode = on
archive_command = '/bin/true'
logging_collector = off
"""
HBA = """\
# Written by Roost at every start.
local   all             {admin}         peer map=roost
local   replication     {admin}         peer map=roost
local   all             all             scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
"""


class Cluster:
    """The cluster at ``home/name`` (``postgres``, or ``postgres-vN`` for version N)."""

    def __init__(self, home: Path, port: int, name: str = "postgres",
                 version: str | None = None) -> None:
        self.name = name
        self.version = version  # the binaries' major version; None: the data's or the newest
        self.root = home / name
        self.data = self.root / "data"
        self.run = self.root / "run"
        self.logs = self.root / "log"
        self.log = self.logs / "postgres.log"
        self.password_file = self.root / "admin-password"
        self.port = port

    @classmethod
    def versioned(cls, home: Path, version: str) -> Cluster:
        """The cluster of PostgreSQL ``version`` that upgrades move databases into."""
        root = home / f"postgres-v{version}"
        port_file = root / "port"
        port = int(port_file.read_text()) if port_file.exists() else _free_port()
        return cls(home, port, f"postgres-v{version}", version)

    def exists(self) -> bool:
        """Whether initdb has run here."""
        return (self.data / "PG_VERSION").exists()

    def server(self) -> Server:
        """The cluster as a :class:`Server` (it need not be running)."""
        password = self.password_file.read_text().strip()
        return Server(admin_url=f"postgresql://{ADMIN}:{password}@127.0.0.1:{self.port}/postgres",
                      host="127.0.0.1", port=self.port, bin_dir=self.bin_dir())

    def bin_dir(self) -> Path:
        """The binaries that run this cluster: its version's (or its data's), else the newest."""
        version = self.version
        if version is None and (self.data / "PG_VERSION").exists():
            version = (self.data / "PG_VERSION").read_text().strip()
        return _bin_dir(version)

    def running(self) -> bool:
        """Whether the cluster's postmaster is up."""
        if not self.exists():
            return False
        done = self._run([self._tool("pg_ctl"), "status", "-D", str(self.data)], check=False)
        return done.returncode == 0

    def ensure(self) -> Server:
        """Create the cluster if there is none, start it if it is stopped; return it."""
        if self.running():
            return self.server()
        self._check_port()  # before initdb: a refusal leaves nothing behind
        if not self.exists():
            self.init()
        self.start()
        return self.server()

    def init(self) -> None:
        """Run initdb with a generated admin password and Roost's configuration."""
        self.bin_dir()  # the clear "install postgresql" error comes before anything is created
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)
        if self.name != "postgres":
            (self.root / "port").write_text(f"{self.port}\n")
        for folder, mode in ((self.data, 0o700), (self.run, 0o755), (self.logs, 0o700)):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, mode)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        os.chmod(self.password_file, 0o600)
        pwfile = self.run / "initdb-password"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        self._own(self.data, self.run, self.logs, pwfile)
        try:
            self._run([self._tool("initdb"), "-D", str(self.data), "-U", ADMIN, "-E", "UTF8",
                       "--locale=C.UTF-8", "--auth-local=scram-sha-256",
                       "--auth-host=scram-sha-256", f"--pwfile={pwfile}"])
        finally:
            pwfile.unlink(missing_ok=True)
        (self.data / "conf.d").mkdir(exist_ok=True)
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write("\ninclude_dir = 'conf.d'\n")
        self._write_config()

    def _write_config(self) -> None:
        self._write_conf_d("00-roost", CONFIG.format(port=self.port, run=self.run))
        # pgBackRest (run as the cluster's OS user) logs in as the admin role over the
        # socket by peer authentication; everyone else needs a password.
        os_user = OS_USER if self._as_postgres() else pwd.getpwuid(os.geteuid()).pw_name
        hba, ident = self.data / "pg_hba.conf", self.data / "pg_ident.conf"
        hba.write_text(HBA.format(admin=ADMIN))
        ident.write_text(f"# Written by Roost at every start\nroost {os_user} {ADMIN}\n")
        self._own(hba, ident)

    def _write_conf_d(self, name: str, text: str) -> None:
        path = self.data / "conf.d" / f"{name}.conf"
        path.write_text(text)
        self._own(self.data / "conf.d", path, self.data)

    def set_config(self, name: str, values: dict[str, str]) -> None:
        """Write ``conf.d/<name>.conf`` (overriding Roost's defaults) and reload if running.

        Settings that need a restart (``wal_level``, ``archive_mode``) are already set for
        archiving; ``archive_command`` and the like take effect on reload.
        """
        quoted = "".join(f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n"
                         for key, value in values.items())
        self._write_conf_d(name, quoted)
        if self.running():
            self._run([self._tool("pg_ctl"), "reload", "-D", str(self.data)])

    def start(self) -> None:
        """Start the cluster on ``port``; a port another program holds is refused clearly."""
        self._check_port()
        self._write_config()
        done = self._run([self._tool("pg_ctl"), "start", "-w", "-t", "60", "-D",
                          str(self.data), "-l", str(self.log)], check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:] \
                if self.log.exists() else []
            raise RuntimeFailure("Roost's PostgreSQL did not start: "
                                 + (" / ".join(tail) or done.stderr.strip()))

    def _check_port(self) -> None:
        if _port_taken(self.port):
            raise InvalidInput(f"cannot start Roost's PostgreSQL: port 127.0.0.1:{self.port} is "
                               "in use by another program; set ROOST_PG_PORT to a free port")

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: sessions are ended, nothing is lost)."""
        if self.running():
            self._run([self._tool("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data)],
                      check=False)

    def _tool(self, name: str) -> str:
        return str(self.bin_dir() / name)

    def _as_postgres(self) -> bool:
        return os.geteuid() == 0

    def _own(self, *paths: Path) -> None:
        if not self._as_postgres():
            return
        entry = _postgres_user()
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        for parent in self.root.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:  # the postgres user must reach its data directory
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        ids: dict[str, Any] = {}
        if self._as_postgres():
            self._own()
            entry = _postgres_user()
            # Drop root's group too: a directory's group bits would otherwise apply.
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        try:
            done = subprocess.run(argv, **ids, capture_output=True, text=True, timeout=120,
                                  cwd="/", check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeFailure(f"{Path(argv[0]).name} failed: {exc}") from exc
        if check and done.returncode != 0:
            raise RuntimeFailure(f"{Path(argv[0]).name} failed: "
                                 f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done


def _bin_dir(version: str | None = None) -> Path:
    if version is not None:
        wanted = PG_LIB / version / "bin"
        if not (wanted / "initdb").exists() or not (wanted / "postgres").exists():
            raise InvalidInput(f"PostgreSQL {version} is not installed on this machine: run "
                               f"`apt-get install postgresql-{version}` (Roost uses its "
                               "binaries)")
        return wanted
    found = find_bin_dir()
    if found is None or not (found / "initdb").exists():
        raise InvalidInput("PostgreSQL is not installed on this machine: run "
                           "`apt-get install postgresql` (Roost uses its binaries), or point "
                           "Roost at a server with ROOST_PG_SERVER=postgresql://ADMIN:PW@HOST/")
    return found


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError as exc:
        raise InvalidInput("there is no `postgres` user to run PostgreSQL as: run "
                           "`apt-get install postgresql`") from exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0
