"""An app's journald lines on its VM, copied into its Roost log as they come.

``journalctl -f -o json`` runs over SSH for the app's processes (identifier ``roost-APP``,
set by each of its units); each entry
becomes a line of :class:`~roost.runtime.logs.AppLogs` with the process as its source
(``app[web.1]``, ``app[worker.2]``, ``app[web.check]`` for a release being checked), so
`roost logs`, its ``--tail`` and the dashboard read VM apps like any other. The journal
cursor of the last line copied is kept, so a dropped connection resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
import time
from collections.abc import Callable

from roost.runtime.logs import AppLogs
from roost.runtime.vm.ssh import Connection
from roost.runtime.vm.units import Layout

log = logging.getLogger("roost.runtime.vm")


def source_of(layout: Layout, unit: str) -> str:
    """The log source of a unit: ``app[web.1]``, ``app[worker.2]``, ``app[web.check]``."""
    kind = unit.removeprefix(layout.unit("")).removesuffix(".service")
    if kind == "web":
        return "app[web.1]"
    if kind == "check":
        return "app[web.check]"
    ptype, _, number = kind.partition("@")
    return f"app[{ptype}.{number or 1}]"


class LogPump:
    """Copies one app's journal into its Roost log until stopped."""

    def __init__(self, layout: Layout, logs: AppLogs, connect: Callable[[], Connection]
                 ) -> None:
        self.layout = layout
        self.logs = logs
        self.connect = connect
        self.cursor = ""
        # Lines from a second before the pump was made: the first release's first lines
        # are written while the SSH session that follows the journal is still opening.
        self.since = int(time.time()) - 1
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self._thread = threading.Thread(target=self._run, name=f"vm-logs-{layout.app}",
                                        daemon=True)

    def start(self) -> None:
        """Start copying (lines logged from now on)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop copying."""
        self._stop.set()
        if self._conn is not None:
            self._conn.close()
        self._thread.join(5)

    def _command(self) -> str:
        since = (f"--after-cursor={shlex.quote(self.cursor)}" if self.cursor
                 else f"--since=@{self.since}")
        # By the identifier every unit of the app logs with: ``-u GLOB`` would expand the
        # glob once, at the start, to the units the journal knew then.
        return f"journalctl -f -o json --no-pager {since} -t {shlex.quote(self.layout.tag)}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._conn = self.connect()
                for line in self._conn.stream(self._command()):
                    if self._stop.is_set():
                        break
                    self._copy(line)
            except Exception as exc:  # the VM is away: try again shortly
                log.info("journal of %s: %s", self.layout.app, exc)
            finally:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            self._stop.wait(2.0)

    def _copy(self, line: str) -> None:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        self.cursor = str(entry.get("__CURSOR") or self.cursor)
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journald gives non-UTF-8 text as a byte list
            message = bytes(b for b in message if isinstance(b, int)).decode(errors="replace")
        if not isinstance(message, str):
            return
        unit = str(entry.get("_SYSTEMD_UNIT") or "")
        if unit.startswith(self.layout.unit("")):
            self.logs.write(self.layout.app, source_of(self.layout, unit), message)
        else:  # systemd's own words about the unit (started, stopped, failed)
            self.logs.event(self.layout.app, "vm", message)
