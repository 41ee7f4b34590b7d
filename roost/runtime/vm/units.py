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

    def unit(self, kind: str) -> str:
        """A unit's name without suffix (``web``, ``check``, ``worker@``); app names have no
        ``_``, so ``roost-APP_*`` names this app's units and no other's."""
        return f"roost-{self.app}_{kind}"

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


def _service(layout: Layout, number: int, ptype: str, dyno: str, port: int | None,
             description: str, extra: str = "", restart: str = "always",
             grace: float = 30.0) -> str:
    env = [f"DYNO={dyno}", f"ROOST_RELEASE=v{number}", f"ROOST_APP={layout.app}"]
    if port is not None:
        env.append(f"PORT={port}")
    return ("[Unit]\n"
            f"Description=Roost app {layout.app} v{number}: {description}\n"
            "After=network.target\n"
            f"{extra}"
            "\n[Service]\n"
            f"User={layout.user}\nGroup={layout.user}\n"
            f"EnvironmentFile={layout.env_file(number)}\n"
            + "".join(f"Environment={e}\n" for e in env) +
            f"WorkingDirectory={layout.release(number)}\n"
            f"ExecStart=/bin/bash {layout.scripts(number)}/{ptype}.sh\n"
            f"Restart={restart}\nRestartSec=1\n"
            f"TimeoutStopSec={max(int(grace), 1)}\nKillMode=mixed\n"
            "NoNewPrivileges=yes\n"
            f"SyslogIdentifier={layout.app}\n"
            "\n[Install]\nWantedBy=multi-user.target\n")


def socket_unit(layout: Layout, listen: str, kind: str = "web") -> str:
    """The socket that holds a web port (``kind`` web: the live one; check: a candidate's)."""
    return ("[Unit]\n"
            f"Description=Roost app {layout.app}: {kind} socket\n"
            "\n[Socket]\n"
            f"ListenStream={listen}\n"
            f"Service={layout.unit(kind)}.service\n"
            "Backlog=4096\nNoDelay=yes\n"
            "\n[Install]\nWantedBy=sockets.target\n")


def web_service(layout: Layout, number: int, port: int, grace: float) -> str:
    """The live web service of release ``number`` (takes over the socket on restart)."""
    sock = layout.unit("web") + ".socket"
    return _service(layout, number, "web", "web.1", port, "web",
                    extra=f"Requires={sock}\nAfter={sock}\n", grace=grace)


def check_service(layout: Layout, number: int, port: int) -> str:
    """A candidate web process of release ``number``, health-checked before it goes live."""
    sock = layout.unit("check") + ".socket"
    return _service(layout, number, "web", "web.check", port, "candidate web",
                    extra=f"Requires={sock}\nAfter={sock}\n", restart="no", grace=5)


def worker_service(layout: Layout, number: int, ptype: str, grace: float) -> str:
    """A template unit for the non-web process type ``ptype`` (instances 1, 2, …)."""
    return _service(layout, number, ptype, f"{ptype}.%i", None, ptype, grace=grace)
