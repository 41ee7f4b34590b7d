"""`roost addons`: an app's add-ons (databases, email, DNS): list, add, remove."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

app = group("Add-ons of an app: databases, email, DNS.")


@app.command("list")
def addons_list(app_name: str = typer.Argument(..., metavar="APP"),
                json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """List APP's add-ons with their status, health and config vars."""
    data = Client().request("GET", f"/apps/{app_name}/addons")
    if json:
        print_json(data)
        return
    rows = [{**a, "config_vars": ", ".join(a.get("config_vars") or []) or "-"} for a in data]
    print_table(rows, [("kind", "KIND"), ("status", "STATUS"), ("health", "HEALTH"),
                       ("config_vars", "CONFIG VARS")],
                empty=f"{app_name} has no add-ons: add one with "
                f"`roost addons add {app_name} KIND`")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """Turn ``--option K=V`` values into a dict; the value may contain '=' and be empty."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"cannot read --option {pair!r}: write --option KEY=VALUE, "
                           "e.g. --option version=16")
        options[key.strip()] = value
    return options


def _release_note(data: dict[str, Any]) -> str:
    return f"; release v{data['release']}" if data.get("release") else ""


def _fail_if_not_restarted(app_name: str, data: dict[str, Any]) -> None:
    if data.get("error"):
        raise CliError(f"v{data['release']} of {app_name} did not start, the previous "
                       f"release keeps serving: {data['error']}")


@app.command("add")
def addons_add(
    app_name: str = typer.Argument(..., metavar="APP"),
    kind: str = typer.Argument(..., metavar="KIND", help="e.g. postgres"),
    option: list[str] = typer.Option(None, "--option", metavar="KEY=VALUE",
                                     help="a setting of the add-on (repeatable)"),
    json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Provision an add-on for APP; its config vars go into a new release."""
    options = parse_options(option or [])
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/addons",
                                       json={"kind": kind, "options": options})
    if json:
        print_json(data)
    else:
        names = ", ".join(data.get("config_vars") or []) or "no config vars"
        then = _release_note(data) or f"; {app_name}'s next deploy gets them"
        ok(f"Added {data['kind']} to {app_name} ({data['status']}): sets {names}{then}")
        if data.get("message"):
            ok(data["message"])
    _fail_if_not_restarted(app_name, data)


@app.command("remove")
def addons_remove(
    app_name: str = typer.Argument(..., metavar="APP"),
    kind: str = typer.Argument(..., metavar="KIND"),
    confirm: str = typer.Option("", "--confirm", help="repeat the app's name to confirm"),
) -> None:
    """Deprovision an add-on (its data goes with it); a new release runs without its vars."""
    if confirm != app_name:
        raise CliError(f"removing the {kind} add-on of {app_name} deletes its data: "
                       f"repeat the app's name to confirm: --confirm {app_name}")
    data = Client(timeout=600).request("DELETE", f"/apps/{app_name}/addons/{quote(kind, safe='')}",
                                       params={"confirm": confirm})
    ok(f"Removed {data['removed']} from {app_name}{_release_note(data)}")
    if data.get("message"):
        ok(data["message"])
    _fail_if_not_restarted(app_name, data)
