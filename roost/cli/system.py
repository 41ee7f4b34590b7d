"""`roost up`, `roost status` and `roost login`."""

from __future__ import annotations

import typer

from roost import credentials
from roost.cli.client import Client, CliError, Unreachable
from roost.cli.output import ok, print_json, print_table


def up(example: bool = typer.Option(False, "--example", help="also deploy the example app")
       ) -> None:
    """Start Roost in the foreground (control plane, router, supervisor, monitors)."""
    from roost.errors import RoostError
    from roost.settings import load_settings

    try:
        settings = load_settings()  # a bad setting is told before the daemon's long import
        from roost import daemon

        daemon.serve(settings, deploy_example=example)
    except RoostError as exc:
        raise CliError(str(exc), exit_code=2) from exc
    except OSError as exc:
        raise CliError(f"cannot start: {exc}", exit_code=2) from exc


def status(json: bool = typer.Option(False, "--json")) -> None:
    """Check that the platform answers and that the token is accepted.

    Lists the control-plane instances sharing its store, and what each runs."""
    client = Client(timeout=10)
    health = client.request("GET", "/health")
    # Needs the token: proves it works, not just that a port is open.
    instances = client.request("GET", "/instances")
    if json:
        print_json({"url": client.creds.url, **health, "instances": instances})
        return
    if health.get("status") != "ok":
        raise CliError(f"Roost at {client.creds.url} answers but is {health.get('status')}: "
                       f"store {health.get('store')}")
    ok(f"Roost {health['version']} at {client.creds.url}: healthy")
    rows = [{"name": i["name"] + (" (this)" if i["this"] else ""), "host": i["host"],
             "address": i["address"],
             "beat": f"{i['heartbeat_age_s']:.0f}s ago" + ("" if i["live"] else " (gone)"),
             "holds": ", ".join(i["holds"]) or "-"} for i in instances]
    if rows:
        print_table(rows, [("name", "INSTANCE"), ("host", "HOST"), ("address", "ADDRESS"),
                           ("beat", "HEARTBEAT"), ("holds", "RUNS")])


def login(
    url: str = typer.Argument(..., help="the Roost server, e.g. https://roost.example.com"),
    token: str = typer.Option(..., "--token", help="an API token of that server"),
) -> None:
    """Point the CLI at a Roost server and check the token."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"invalid URL {url!r}: give it with http:// or https://")
    try:
        response = Client(credentials.Credentials(url, token), timeout=10).send("GET", "/apps")
    except Unreachable as exc:
        raise CliError(f"cannot reach {url}: {exc.cause}; nothing saved") from exc
    except CliError as exc:
        raise CliError(f"{url} refused the token: {exc.message}; nothing saved") from exc
    if response.status_code != 200:
        raise CliError(f"{url} answered {response.status_code} instead of its app list; "
                       "nothing saved")
    path = credentials.write(credentials.roost_home(), credentials.Credentials(url, token))
    ok(f"Logged in to {url} (saved in {path})")
    from roost.cli.git import install_helper

    if install_helper(url):
        ok(f"git pushes to {url} authenticate with this token (git's credential helper)")
