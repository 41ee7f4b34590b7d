"""`roost pg`: an app's PostgreSQL database: info, psql, sessions, diagnose, credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import unquote, urlsplit, urlunsplit

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table
from roost.cli.pg_backups import backups

app = typer.Typer(help="An app's PostgreSQL database: info, psql, sessions, diagnose, "
                  "credentials, backups.", no_args_is_help=True)
credentials_app = group("Which login role an app uses, and rotating its password.",
                        default="show")
app.add_typer(credentials_app, name="credentials")
app.add_typer(backups, name="backups")

APP = typer.Argument(..., metavar="APP")
JSON = typer.Option(False, "--json", help="JSON output")
COLOURS = {"green": "[green]green[/green]", "yellow": "[yellow]yellow[/yellow]",
           "red": "[red]red[/red]"}


@credentials_app.command("show")
def credentials_show(app_name: str = APP, json: bool = JSON) -> None:
    """Show which login role APP uses and when its password was last rotated."""
    data = Client().request("GET", f"/apps/{app_name}/pg/credentials")
    if json:
        print_json(data)
        return
    ok(f"{app_name} connects as {data['live']} (rotated {data['rotated_at']}); standby "
       f"{data['standby']} {'can' if data['standby_can_login'] == 'yes' else 'cannot'} log in")


@credentials_app.command("rotate")
def credentials_rotate(app_name: str = APP, json: bool = JSON) -> None:
    """Rotate APP's password: the standby role gets a new one, a hot restart moves APP to it."""
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/pg/credentials/rotate")
    if json:
        print_json(data)
        return
    release = f" in release v{data['release']}" if data.get("release") else ""
    ok(f"{app_name} now connects as {data['live']}{release}; {data['retired']} can no longer "
       "log in (its open sessions finish normally)")


@app.command("info")
def info(app_name: str = APP, json: bool = JSON) -> None:
    """Show APP's database: version, size, connections, cache hit rate, last verified
    backup, point-in-time window, diagnose summary."""
    data = Client().request("GET", f"/apps/{app_name}/pg/info")
    if json:
        print_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        sys.stdout.write(f"{key.replace('_', ' '):<{width}}  {value}\n")


@app.command("psql")
def psql(app_name: str = APP,
         command: str = typer.Option("", "-c", "--command", help="run one SQL command")) -> None:
    """Open psql on APP's database as the app's own user (or run one command with -c)."""
    program = shutil.which("psql")
    if program is None:
        raise CliError("psql is not installed here: run `apt-get install postgresql-client`")
    url = Client().request("GET", f"/apps/{app_name}/pg/connection")["url"]
    # The password goes in the environment, not the command line other users can read.
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        url = urlunsplit(parts._replace(netloc=parts.netloc.replace(
            ":" + parts.password + "@", "@", 1)))
    argv = [program, url, *(["-X", "-v", "ON_ERROR_STOP=1", "-c", command] if command else [])]
    if not command:
        os.execve(program, argv, env)
    raise typer.Exit(subprocess.run(argv, check=False, env=env).returncode)


@app.command("ps")
def ps(app_name: str = APP, json: bool = JSON) -> None:
    """List the sessions on APP's database."""
    data = Client().request("GET", f"/apps/{app_name}/pg/ps")
    if json:
        print_json(data)
        return
    print_table(data, [("pid", "PID"), ("user", "USER"), ("state", "STATE"),
                       ("seconds", "SECONDS"), ("query", "QUERY")],
                empty=f"no sessions on {app_name}'s database")


@app.command("kill")
def kill(app_name: str = APP, pid: int = typer.Argument(..., metavar="PID")) -> None:
    """End session PID on APP's database (`roost pg ps APP` lists them)."""
    data = Client().request("POST", f"/apps/{app_name}/pg/kill/{pid}")
    ok(data["message"])


@app.command("diagnose")
def diagnose(app_name: str = APP, json: bool = JSON) -> None:
    """Check APP's database: each check green, yellow or red, with what to do next."""
    data = Client(timeout=120).request("GET", f"/apps/{app_name}/pg/diagnose")
    if json:
        print_json(data)
        return
    for check in data:
        ok(f"{COLOURS.get(check['status'], check['status'])}  {check['name']}: "
           f"{check['detail']}")
        if check.get("next_step"):
            ok(f"        next: {check['next_step']}")
    if any(c["status"] == "red" for c in data):
        raise typer.Exit(1)


@app.command("upgrade")
def upgrade(app_name: str = APP,
            version: str = typer.Option("", "--version", metavar="N",
                                        help="the major version to move to, e.g. 16"),
            finish: bool = typer.Option(False, "--finish",
                                        help="drop the old database an upgrade kept")) -> None:
    """Move APP's database to PostgreSQL N by restore (proven, then a hot restart), or
    --finish an upgrade by dropping the old database."""
    if bool(version) == finish:
        raise CliError("give --version N to upgrade or --finish to drop the old database, "
                       f"not {'both' if finish else 'neither'}")
    client = Client(timeout=3600)
    if finish:
        ok(client.request("POST", f"/apps/{app_name}/pg/upgrade/finish")["message"])
        return
    data = client.request("POST", f"/apps/{app_name}/pg/upgrade", json={"version": version})
    release = f" in release v{data['release']}" if data.get("release") else ""
    ok(f"{app_name} now uses PostgreSQL {data['version']}{release}: backup {data['backup']} "
       f"restored and proven ({data['tables']} tables, {data['rows']} rows); the old database "
       f"is kept read-only until `roost pg upgrade {app_name} --finish`")
