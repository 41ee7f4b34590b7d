"""`roost monitors`, `incidents`, `maintenance`, `notify` and `probe`."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import Any

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

monitors_app = group("Uptime monitors: HTTP(S), TCP and TLS-expiry checks.")
incidents_app = group("Outages: list and acknowledge.")
maintenance_app = group("Maintenance windows: checks go on, pages are held.")
notify_app = typer.Typer(help="Notifications to maintainers.")


def _monitor_rows(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "state": ("paused" if m["paused"] else m["state"])
             + (" (flapping)" if m["flapping"] else ""),
             "every": f"{m['interval_s']:.0f}s"} for m in data]


@monitors_app.command("list")
def monitors_list(app_name: str = typer.Argument(None, metavar="[APP]"),
                  json: bool = typer.Option(False, "--json")) -> None:
    """List monitors, of every app or of APP."""
    data = Client().request("GET", "/monitors", params={"app": app_name} if app_name else {})
    if json:
        print_json(data)
        return
    print_table(_monitor_rows(data), [("id", "ID"), ("app_name", "APP"), ("kind", "KIND"),
                                      ("target", "TARGET"), ("every", "EVERY"),
                                      ("state", "STATE"), ("owner", "OWNER")],
                empty="no monitors yet: `roost monitors add APP --url URL`")


@monitors_app.command("add")
def monitors_add(
    app_name: str = typer.Argument(..., metavar="APP"),
    url: str = typer.Option(..., "--url", help="https://…, tcp://host:port, tls://host:port "
                            "or postgres://user:password@host:port/database"),
    label: str = typer.Option("", "--name", help="its name on the public status page "
                              "(default: the host)"),
    method: str = typer.Option("GET", "--method"),
    header: list[str] = typer.Option(None, "--header", help="'Name: value' (repeatable)"),
    expect: str = typer.Option(None, "--expect", help="status codes, e.g. 200-299,304"),
    max_response_ms: int = typer.Option(None, "--max-response-ms"),
    contains: str = typer.Option(None, "--contains", help="the body must contain this"),
    regex: str = typer.Option(None, "--regex", help="the body must match this"),
    no_follow: bool = typer.Option(False, "--no-follow-redirects"),
    insecure: bool = typer.Option(False, "--insecure", help="do not verify TLS certificates"),
    warn_days: int = typer.Option(14, "--warn-days", help="TLS expiry warning, in days"),
    interval: float = typer.Option(30, "--interval", help="seconds between checks (min 10)"),
    timeout: float = typer.Option(None, "--timeout", help="seconds"),
    confirm: int = typer.Option(2, "--confirm", help="failures that confirm an outage"),
    recover: int = typer.Option(2, "--recover", help="successes that confirm recovery"),
) -> None:
    """Add a monitor to APP."""
    headers = {}
    for h in header or []:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise CliError(f"cannot read header {h!r}: write 'Name: value'")
        headers[name.strip()] = value.strip()
    body = {"url": url, "name": label, "method": method, "headers": headers,
            "expected_status": expect,
            "max_response_ms": max_response_ms, "body_contains": contains, "body_regex": regex,
            "follow_redirects": not no_follow, "verify_tls": not insecure,
            "warn_days": warn_days, "interval": interval, "timeout": timeout,
            "confirm": confirm, "recover": recover}
    data = Client().request("POST", f"/apps/{app_name}/monitors", json=body)
    ok(f"Added monitor #{data['id']} on {data['target']} every {data['interval_s']:.0f}s")


@monitors_app.command("info")
def monitors_info(monitor_id: int = typer.Argument(..., metavar="ID"),
                  json: bool = typer.Option(False, "--json")) -> None:
    """A monitor's state, uptime and last checks."""
    data = Client().request("GET", f"/monitors/{monitor_id}")
    if json:
        print_json(data)
        return
    m = data["monitor"]
    ok(f"[bold]#{m['id']} {m['target']}[/bold] ({m['app_name']}, {m['kind']}, "
       f"every {m['interval_s']:.0f}s)")
    ok(f"  state:  {'paused' if m['paused'] else m['state']} since {m['state_since']}")
    ok("  uptime: " + "  ".join(f"{k} {'-' if v is None else f'{v:.3f}%'}"
                                for k, v in data["uptime"].items()))
    if data["open_incident"]:
        inc = data["open_incident"]
        ok(f"  [red]open incident #{inc['id']}[/red] since {inc['started_at']}: {inc['cause']}")
    rows = [{**c, "result": "ok" if c["ok"] else (c["error"] or f"status {c['status']}"),
             "ms": f"{c['latency_ms']:.0f}"} for c in data["last_checks"]]
    print_table(rows, [("at", "AT"), ("probe", "PROBE"), ("result", "RESULT"),
                       ("status", "STATUS"), ("ms", "MS")], empty="no checks yet")


def _monitor_action(action: str, method: str = "POST") -> Any:
    def command(monitor_id: int = typer.Argument(..., metavar="ID")) -> None:
        path = f"/monitors/{monitor_id}" + ("" if method == "DELETE" else f"/{action}")
        data = Client().request(method, path)
        ok(f"{action.capitalize()}d monitor #{data['id']} ({data['target']})"
           if action != "remove" else f"Removed monitor #{data['id']} ({data['target']})")

    command.__doc__ = {"pause": "Stop checking a monitor.", "resume": "Check a monitor again.",
                       "remove": "Delete a monitor and its history."}[action]
    return command


monitors_app.command("pause")(_monitor_action("pause"))
monitors_app.command("resume")(_monitor_action("resume"))
monitors_app.command("remove")(_monitor_action("remove", "DELETE"))


@incidents_app.command("list")
def incidents_list(app_name: str = typer.Argument(None, metavar="[APP]"),
                   open_only: bool = typer.Option(False, "--open", help="only unresolved"),
                   json: bool = typer.Option(False, "--json")) -> None:
    """List incidents, newest first."""
    params: dict[str, Any] = {"open": open_only}
    if app_name:
        params["app"] = app_name
    data = Client().request("GET", "/incidents", params=params)
    if json:
        print_json(data)
        return
    rows = [{**i, "state": "resolved" if i["ended_at"] else
             ("acknowledged" if i["acknowledged_at"] else "open")} for i in data]
    print_table(rows, [("id", "ID"), ("app_name", "APP"), ("state", "STATE"),
                       ("started_at", "STARTED"), ("ended_at", "ENDED"), ("cause", "CAUSE")],
                empty="no incidents")


@incidents_app.command("ack")
def incidents_ack(incident_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Acknowledge an incident: reminders and escalation stop."""
    data = Client().request("POST", f"/incidents/{incident_id}/ack")
    ok(f"Acknowledged incident #{data['id']} of {data['app_name']}")


def _when(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"cannot read {name} {text!r}: use ISO 8601 with a zone, "
                       "e.g. 2026-12-01T22:00:00Z") from exc
    if value.tzinfo is None:
        raise CliError(f"{name} {text!r} needs a time zone, e.g. 2026-12-01T22:00:00Z")
    return value.isoformat()


@maintenance_app.command("list")
def maintenance_list(app_name: str = typer.Argument(..., metavar="APP"),
                     json: bool = typer.Option(False, "--json")) -> None:
    """An app's maintenance windows."""
    data = Client().request("GET", f"/apps/{app_name}/maintenance")
    if json:
        print_json(data)
        return
    print_table(data, [("id", "ID"), ("starts_at", "START"), ("ends_at", "END"),
                       ("reason", "REASON")], empty=f"{app_name} has no maintenance windows")


@maintenance_app.command("add")
def maintenance_add(
    app_name: str = typer.Argument(..., metavar="APP"),
    start: str = typer.Option(None, "--start", help="ISO time with zone (default: now)"),
    end: str = typer.Option(None, "--end", help="ISO time with zone"),
    duration: str = typer.Option(None, "--duration", help="e.g. 30m, 2h"),
    reason: str = typer.Option("", "--reason"),
) -> None:
    """Hold APP's pages during a window (checks go on)."""
    from roost.core import durations
    from roost.errors import RoostError

    seconds = None
    if duration is not None:
        try:
            seconds = durations.parse(duration).total_seconds()
        except RoostError as exc:
            raise CliError(str(exc)) from exc
    data = Client().request("POST", f"/apps/{app_name}/maintenance", json={
        "start": _when(start, "--start"), "end": _when(end, "--end"), "duration_s": seconds,
        "reason": reason})
    ok(f"Maintenance #{data['id']} for {app_name}: {data['starts_at']} to {data['ends_at']}")


@maintenance_app.command("remove")
def maintenance_remove(window_id: int = typer.Argument(..., metavar="ID")) -> None:
    """End a maintenance window."""
    data = Client().request("DELETE", f"/maintenance/{window_id}")
    ok(f"Removed maintenance #{data['id']} of {data['app_name']}")


@notify_app.command("test")
def notify_test(app_name: str = typer.Argument(..., metavar="APP")) -> None:
    """Send a test message to each maintainer of APP and report each channel."""
    data = Client(timeout=120).request("POST", f"/apps/{app_name}/notify/test")
    failed = 0
    for r in data:
        mark = "[green]ok[/green]" if r["ok"] else "[red]failed[/red]"
        ok(f"{mark}  {r['recipient']}  {r['channel']} {r['address']}  {r['detail']}")
        failed += not r["ok"]
    if failed:
        raise CliError(f"{failed} of {len(data)} test messages failed")


def probe(name: str = typer.Option(..., "--name", help="this location's name, e.g. fra-1"),
          api: str = typer.Option(..., "--api", help="the control plane URL"),
          token: str = typer.Option(..., "--token", help="an API token")) -> None:
    """Run an uptime probe in another location, reporting to the control plane."""
    import httpx

    from roost.monitor.uptime.probe import run_probe

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with httpx.AsyncClient(timeout=30) as client:
            check = await client.get(api.rstrip("/") + "/api/v1/apps",
                                     headers={"Authorization": f"Bearer {token}"})
            if check.status_code != 200:
                raise CliError(f"{api} refused the token ({check.status_code})")
            ok(f"Probe {name} reporting to {api}")
            await run_probe(client, name, api.rstrip("/"), token, stop)

    try:
        asyncio.run(main())
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {api}: {exc.__class__.__name__}") from exc
