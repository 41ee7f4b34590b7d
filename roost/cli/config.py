"""`roost config`: an app's config vars."""

from __future__ import annotations

import sys

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

app = group("Show, set and unset an app's config vars.")


@app.command("list")
def config_list(
    app_name: str = typer.Argument(..., metavar="APP"),
    reveal: bool = typer.Option(False, "--reveal", help="show values instead of masks"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """List the config vars of APP."""
    data = Client().request("GET", f"/apps/{app_name}/config", params={"reveal": reveal})
    if json:
        print_json(data)
        return
    print_table([{"key": k, "value": v} for k, v in data.items()], [("key", "KEY"),
                ("value", "VALUE")], empty=f"{app_name} has no config vars")


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """Turn KEY=VALUE arguments into a dict; the value may contain '=' and anything else."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"cannot read {pair!r}: write KEY=VALUE (quote values with spaces)")
        values[key] = value
    return values


@app.command("set")
def config_set(
    app_name: str = typer.Argument(..., metavar="APP"),
    pairs: list[str] = typer.Argument(..., metavar="KEY=VALUE..."),
) -> None:
    """Set config vars on APP (a new release when the app has one)."""
    # A change cuts a release and activates it: wait as long as a rollback does.
    data = Client(timeout=600).request("PATCH", f"/apps/{app_name}/config",
                                       json={"vars": parse_pairs(pairs)})
    changed = ", ".join(data["changed"]) or "nothing (values unchanged)"
    ok(f"Set {changed} on {app_name}{_release_note(data)}")
    _fail_if_not_restarted(app_name, data)


@app.command("get")
def config_get(
    app_name: str = typer.Argument(..., metavar="APP"), key: str = typer.Argument(...)
) -> None:
    """Print one config var's value exactly as stored."""
    data = Client().request("GET", f"/apps/{app_name}/config/{key}")
    sys.stdout.write(data[key] + "\n")


@app.command("unset")
def config_unset(
    app_name: str = typer.Argument(..., metavar="APP"),
    keys: list[str] = typer.Argument(..., metavar="KEY..."),
) -> None:
    """Remove config vars from APP."""
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/config/unset",
                                       json={"keys": keys})
    ok(f"Unset {', '.join(data['changed'])} on {app_name}{_release_note(data)}")
    _fail_if_not_restarted(app_name, data)


def _release_note(data: dict[str, object]) -> str:
    return f"; release v{data['release']}" if data.get("release") else ""


def _fail_if_not_restarted(app_name: str, data: dict[str, object]) -> None:
    if data.get("error"):
        raise CliError(f"the config is saved but v{data['release']} of {app_name} did not "
                       f"start, the previous release keeps serving: {data['error']}")
