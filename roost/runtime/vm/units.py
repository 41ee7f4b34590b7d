"""What an app is on a VM, as files: paths, its user, systemd units, scripts, env files.

Everything here is text; :mod:`roost.runtime.vm.remote` puts it on the VM. The privilege
boundary of a VM app is decided here and nowhere else:

- root owns the units, the start scripts (``scripts/vN/TYPE.sh``) and the env files
  (``/etc/roost/apps/APP/vN.env``, 0600: systemd reads them as root and hands the values to
  the process); the app's user can write none of them;
- the app runs as its own system user (``User=``), with ``NoNewPrivileges``; its release
  directory is the only place it owns.

Web processes are socket-activated: ``roost-APP_web.socket`` holds the listening port, and
every start of ``roost-APP_web.service`` receives it (``LISTEN_FDS=1``, fd 3, as gunicorn,
puma and unicorn accept it). A restart or a new release therefore never closes the port:
connections that arrive while the service changes wait in the socket's queue.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass

from roost.errors import InvalidInput

ROOT = "/var/lib/roost/apps"
ETC = "/etc/roost/apps"
UNIT_DIR = "/etc/systemd/system"
PTYPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")


@dataclass(frozen=True)
class Layout:
    """The paths and names of one app on its VM."""

    app: str

    @property
    def user(self) -> str:
        """The app's system user (at most 32 characters, as useradd wants)."""
        name = f"app-{self.app}"
        if len(name) <= 32:
            return name
        return f"app-{self.app[:19]}-{hashlib.sha256(self.app.encode()).hexdigest()[:8]}"

    @property
    def base(self) -> str:
        """The app's directory."""
        return f"{ROOT}/{self.app}"

    def release(self, number: int) -> str:
        """The unpacked slug of release ``number`` (owned by the app's user)."""
        return f"{self.base}/releases/v{number}"

    def scripts(self, number: int) -> str:
        """The root-owned start scripts of release ``number``."""
        return f"{self.base}/scripts/v{number}"

    def env_file(self, number: int) -> str:
        """The root-only environment file of release ``number``."""
        return f"{ETC}/{self.app}/v{number}.env"

    @property
    def current(self) -> str:
        """A symlink to the live release's directory (root's, in a root-owned directory)."""
        return f"{self.base}/current"

    @property
    def current_scripts(self) -> str:
        """A symlink to the live release's start scripts."""
        return f"{self.base}/current-scripts"

    @property
    def current_env(self) -> str:
        """A symlink to the live release's env file."""
        return f"{ETC}/{self.app}/current.env"

    def unit(self, kind: str) -> str:
        """A unit's name without suffix (``web``, ``check``, ``worker@``); app names have no
        ``_``, so ``roost-APP_*`` names this app's units and no other's."""
        return f"roost-{self.app}_{kind}"

    @property
    def tag(self) -> str:
        """The journal's SYSLOG_IDENTIFIER of every process of the app."""
        return f"roost-{self.app}"

    @property
    def pattern(self) -> str:
        """A glob matching every unit of this app."""
        return f"roost-{self.app}_*"


def check_ptype(ptype: str) -> str:
    """A process type usable in a unit name."""
    if not PTYPE.match(ptype):
        raise InvalidInput(f"process type {ptype!r} cannot run on a VM: use lower-case "
                           "letters, digits, '-' and '_' in the Procfile")
    return ptype


def env_text(env: dict[str, str]) -> str:
    """An EnvironmentFile: ``KEY="value"`` each, quoted as systemd reads them."""
    lines = []
    for key, value in sorted(env.items()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue  # config keys are checked on the way in; never emit a bad line
        quoted = (value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
                  .replace("`", "\\`"))  # a newline stays: quoted values span lines
        lines.append(f'{key}="{quoted}"\n')
    return "".join(lines)


def start_script(layout: Layout, number: int, command: str) -> str:
    """A process type's start script: the app's profile, then its Procfile command."""
    home = shlex.quote(layout.release(number))
    return ("#!/bin/bash\n"
            f"cd {home} || exit 1\n"
            f"export HOME={home}\n"
            "for f in .profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done\n"
            "[ -r .profile ] && . ./.profile\n"
            f"exec /bin/bash -c {shlex.quote(command)}\n")


def _service(layout: Layout, ptype: str, dyno: str, port: int | None, description: str,
             extra: str = "", grace: float = 30.0) -> str:
    """A live unit: it names no release (the ``current`` links do), so a new release
    changes no unit file and needs no ``daemon-reload``, only a restart."""
    env = [f"DYNO={dyno}", f"ROOST_APP={layout.app}"]
    if port is not None:
        env.append(f"PORT={port}")
    return ("[Unit]\n"
            f"Description=Roost app {layout.app}: {description}\n"
            "After=network.target\n"
            f"{extra}"
            "\n[Service]\n"
            f"User={layout.user}\nGroup={layout.user}\n"
            f"EnvironmentFile={layout.current_env}\n"
            + "".join(f"Environment={e}\n" for e in env) +
            f"WorkingDirectory={layout.current}\n"
            f"ExecStart=/bin/bash {layout.current_scripts}/{ptype}.sh\n"
            "Restart=always\nRestartSec=1\n"
            f"TimeoutStopSec={max(int(grace), 1)}\nKillMode=mixed\n"
            "NoNewPrivileges=yes\n"
            f"SyslogIdentifier={layout.tag}\n"
            "\n[Install]\nWantedBy=multi-user.target\n")


def socket_unit(layout: Layout, listen: str) -> str:
    """The socket that holds the live web port, in systemd, across restarts and releases."""
    return ("[Unit]\n"
            f"Description=Roost app {layout.app}: web socket\n"
            "\n[Socket]\n"
            f"ListenStream={listen}\n"
            f"Service={layout.unit('web')}.service\n"
            "Backlog=4096\nNoDelay=yes\n"
            "\n[Install]\nWantedBy=sockets.target\n")


def web_service(layout: Layout, port: int, grace: float) -> str:
    """The live web service (takes over the socket on each restart)."""
    sock = layout.unit("web") + ".socket"
    return _service(layout, "web", "web.1", port, "web",
                    extra=f"Requires={sock}\nAfter={sock}\n", grace=grace)


def worker_service(layout: Layout, ptype: str, grace: float) -> str:
    """A template unit for the non-web process type ``ptype`` (instances 1, 2, …)."""
    return _service(layout, ptype, f"{ptype}.%i", None, ptype, grace=grace)


def check_command(layout: Layout, number: int, port: int) -> list[str]:
    """``systemd-run`` arguments for a candidate web process of release ``number``: a
    transient socket on the VM's loopback ``port`` and a service behind it, with the same
    user, env file and limits as the live one (transient: no unit file, no reload)."""
    unit = layout.unit("check")
    props = [f"User={layout.user}", f"Group={layout.user}",
             f"EnvironmentFile={layout.env_file(number)}", "Environment=DYNO=web.check",
             f"Environment=ROOST_APP={layout.app}", f"Environment=PORT={port}",
             f"WorkingDirectory={layout.release(number)}", "NoNewPrivileges=yes",
             f"SyslogIdentifier={layout.tag}", "KillMode=mixed", "TimeoutStopSec=5"]
    return (["systemd-run", "--quiet", f"--unit={unit}",
             f"--description=Roost app {layout.app} v{number}: candidate web",
             f"--socket-property=ListenStream=127.0.0.1:{port}"]
            + [f"--property={p}" for p in props]
            + ["/bin/bash", f"{layout.scripts(number)}/web.sh"])
