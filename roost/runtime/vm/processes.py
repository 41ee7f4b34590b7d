"""An app's processes on its VM: the units systemd runs for it, listed, started, restarted."""

from __future__ import annotations

import re
import shlex

from roost.runtime.vm import remote
from roost.runtime.vm.ssh import Connection
from roost.runtime.vm.units import Layout

PROPS = "Id,Description,ActiveState,SubState,ExecMainStartTimestampMonotonic,NRestarts,MainPID"


def _instances(conn: Connection, layout: Layout) -> dict[str, list[int]]:
    """Worker instances systemd knows of, per process type."""
    out = conn.run("systemctl list-units --all --plain --no-legend --type=service "
                   f"{shlex.quote(layout.pattern)}", check=False)[1]
    found: dict[str, list[int]] = {}
    for line in out.splitlines():
        unit = line.split(" ", 1)[0]
        m = re.fullmatch(re.escape(layout.unit("")) + r"([a-z0-9_-]+)@(\d+)\.service", unit)
        if m:
            found.setdefault(m.group(1), []).append(int(m.group(2)))
    return found


def set_workers(conn: Connection, layout: Layout, counts: dict[str, int],
                restart: bool) -> None:
    """Run ``counts[type]`` instances of each non-web type (restarted when ``restart``);
    stop the rest."""
    running = _instances(conn, layout)
    stop = [f"{layout.unit(t)}@{i}.service" for t, idx in running.items() for i in idx
            if i > counts.get(t, 0)]
    if stop:
        remote.systemctl(conn, "disable", "--now", *stop, check=False)
    start = [f"{layout.unit(t)}@{i}.service" for t, n in counts.items()
             for i in range(1, n + 1)]
    if start:
        remote.systemctl(conn, "enable", *start)
        remote.systemctl(conn, "restart" if restart else "start", *start)


def restart_units(conn: Connection, layout: Layout, ptype: str | None) -> None:
    """Restart the app's units of ``ptype`` (all types when None); web keeps its socket."""
    targets = []
    if ptype in (None, "web"):
        web = layout.unit("web") + ".service"
        if remote.unit_state(conn, web) in ("active", "activating", "failed"):
            targets.append(web)
    for t, idx in _instances(conn, layout).items():
        if ptype in (None, t):
            targets += [f"{layout.unit(t)}@{i}.service" for i in idx]
    if targets:
        remote.systemctl(conn, "restart", *targets)


def list_processes(conn: Connection, layout: Layout, node: str) -> list[dict[str, object]]:
    """``ps`` rows: name, type, number, state, release, uptime, restarts, pid, node."""
    live = remote.live_release(conn, layout) or 0
    out = conn.run(f"systemctl show --property={PROPS} {shlex.quote(layout.pattern)}; "
                   "cat /proc/uptime", check=False)[1]
    blocks, uptime = out.strip().split("\n\n"), 0.0
    last = blocks[-1].rsplit("\n", 1)
    if last and re.fullmatch(r"[\d.]+ [\d.]+", last[-1].strip()):
        uptime = float(last[-1].split()[0])
        blocks[-1] = last[0] if len(last) > 1 else ""
    rows = []
    for block in blocks:
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        unit = props.get("Id", "")
        m = re.fullmatch(re.escape(layout.unit("")) + r"([a-z0-9_-]+?)(?:@(\d+))?\.service",
                         unit)
        if not m or m.group(1) == "check" or props.get("ActiveState") == "inactive":
            continue
        ptype, number = m.group(1), int(m.group(2) or 1)
        started = int(props.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
        state = {"active": "up", "activating": "starting", "deactivating": "stopping",
                 "failed": "crashed"}.get(props.get("ActiveState", ""), "unknown")
        rows.append({"name": f"{ptype}.{number}", "type": ptype, "number": number,
                     "state": state, "release": live,
                     "uptime_s": round(max(uptime - started, 0.0), 1) if started else 0.0,
                     "restarts": int(props.get("NRestarts") or 0),
                     "pid": int(props.get("MainPID") or 0), "node": node})
    return sorted(rows, key=lambda r: (str(r["type"]), int(str(r["number"]))))


