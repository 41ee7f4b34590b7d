"""`roost ps`, `scale`, `restart`, `run`, `logs`, `domains` and `export`."""

from __future__ import annotations

import json as jsonlib
import sys

import typer

from roost.cli.client import Client, CliError, error_message
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

domains_app = group("Custom domains of an app.")


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def ps(app_name: str = typer.Argument(..., metavar="APP"),
       json: bool = typer.Option(False, "--json")) -> None:
    """An app's processes: type, number, state, release, uptime, restarts."""
    data = Client().request("GET", f"/apps/{app_name}/ps")
    if json:
        print_json(data)
        return
    rows = [{**p, "release": f"v{p['release']}", "uptime": _uptime(p["uptime_s"])}
            for p in data]
    columns = [("name", "PROCESS"), ("state", "STATE"), ("release", "RELEASE"),
               ("uptime", "UPTIME"), ("restarts", "RESTARTS")]
    if any(p.get("node") for p in data):  # the swarm runtime says where each one runs
        columns.append(("node", "NODE"))
    print_table(rows, columns,
                empty=f"{app_name} runs no processes (deploy it, or `roost scale {app_name} "
                "web=1`)")


def scale(app_name: str = typer.Argument(..., metavar="APP"),
          pairs: list[str] = typer.Argument(..., metavar="TYPE=N...")) -> None:
    """Set how many processes of each type run, as TYPE=N (web=2 worker=1)."""
    changes: dict[str, int] = {}
    for pair in pairs:
        name, sep, count = pair.partition("=")
        if not sep or not name or not count.lstrip("-").isdigit():
            raise CliError(f"cannot read {pair!r}: write TYPE=N, e.g. web=2")
        changes[name] = int(count)
    data = Client(timeout=300).request("POST", f"/apps/{app_name}/scale", json=changes)
    ok(f"Scaled {app_name}: " + " ".join(f"{k}={v}" for k, v in sorted(data.items())))


def restart(app_name: str = typer.Argument(..., metavar="APP"),
            ptype: str = typer.Argument(None, metavar="[TYPE]")) -> None:
    """Restart an app's processes (web restarts hot, without dropping requests)."""
    Client(timeout=300).request("POST", f"/apps/{app_name}/restart", json={"type": ptype})
    ok(f"Restarted {ptype or 'all'} processes of {app_name}")


def run(app_name: str = typer.Argument(..., metavar="APP"),
        command: list[str] = typer.Argument(..., metavar="-- CMD...")) -> None:
    """Run a one-off command with the app's environment; exits with its exit code."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("give the command after --, e.g. roost run APP -- python manage.py migrate")
    client = Client(timeout=None)
    with client.stream("POST", f"/apps/{app_name}/run", json={"command": command}) as resp:
        if resp.status_code >= 400:
            resp.read()
            raise CliError(error_message(resp))
        for line in resp.iter_lines():
            if not line.strip():
                continue
            event = jsonlib.loads(line)
            if event["type"] == "output":
                sys.stdout.write(event["line"] + "\n")
                sys.stdout.flush()
            elif event["type"] == "exit":
                raise typer.Exit(int(event["code"]))
    raise CliError("the server closed the stream before the command finished")


def logs(app_name: str = typer.Argument(..., metavar="APP"),
         lines: int = typer.Option(100, "-n", "--num", help="how many past lines"),
         follow: bool = typer.Option(False, "-f", "--follow", help="keep printing new lines"),
         source: str = typer.Option(None, "--source", help="web, web.2, app or roost")) -> None:
    """Show an app's log (its processes' output and platform events)."""
    params: dict[str, object] = {"lines": lines, "follow": follow}
    if source:
        params["source"] = source
    client = Client(timeout=None)
    try:
        with client.stream("GET", f"/apps/{app_name}/logs", params=params) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise CliError(error_message(resp))
            for chunk in resp.iter_text():
                sys.stdout.write(chunk)
                sys.stdout.flush()
    except KeyboardInterrupt:
        return


@domains_app.command("list")
def domains_list(app_name: str = typer.Argument(..., metavar="APP"),
                 json: bool = typer.Option(False, "--json")) -> None:
    """An app's custom domains: DNS record, certificate and monitor state of each."""
    data = Client().request("GET", f"/apps/{app_name}/domains")
    if json:
        print_json(data)
        return
    rows = [{**d, "dns": d["dns"] + (f" ({d['record']} in {d['zone']})" if d["zone"] else ""),
             "monitor": d["monitor"] + (f" (#{d['monitor_id']})" if d["monitor_id"] else "")}
            for d in data]
    print_table(rows, [("hostname", "DOMAIN"), ("dns", "DNS"), ("certificate", "CERTIFICATE"),
                       ("monitor", "MONITOR")],
                empty=f"{app_name} has no custom domain: `roost domains add {app_name} "
                "www.example.com`")


@domains_app.command("add")
def domains_add(app_name: str = typer.Argument(..., metavar="APP"),
                hostname: str = typer.Argument(..., metavar="HOST")) -> None:
    """Route a custom domain to APP (its DNS record made when Roost manages the zone)."""
    data = Client(timeout=900).request("POST", f"/apps/{app_name}/domains",
                                       json={"hostname": hostname})
    host, state = data["hostname"], data["dns"]
    if state == "unmanaged":
        ok(f"Added {host} to {app_name}; point its DNS at this server")
    elif state == "live":
        ok(f"Added {host} to {app_name}: {data['record']} record in {data['zone']} answered by "
           f"its name servers; HTTPS certificate: {data['certificate']}; monitor "
           f"#{data['monitor_id']}")
    else:
        ok(f"Added {host} to {app_name}: {data['record']} record applied in {data['zone']}; "
           f"{data['message']} (checked again in the background)")


@domains_app.command("remove")
def domains_remove(app_name: str = typer.Argument(..., metavar="APP"),
                   hostname: str = typer.Argument(..., metavar="HOST")) -> None:
    """Stop routing a custom domain to APP; its record and monitor go too."""
    Client(timeout=300).request("DELETE", f"/apps/{app_name}/domains/{hostname}")
    ok(f"Removed {hostname} from {app_name}")

