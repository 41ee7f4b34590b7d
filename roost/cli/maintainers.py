"""`roost maintainers`: the people paged about an app."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import typer

from roost.cli.client import Client
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

app = group("List, add and remove an app's maintainers.")


@app.command("list")
def maintainers_list(
    app_name: str = typer.Argument(..., metavar="APP"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """List the maintainers of APP."""
    data = Client().request("GET", f"/apps/{app_name}/maintainers")
    if json:
        print_json(data)
        return
    rows = [{**m, "notify": ", ".join(m["notify"]), "delivery": _delivery(m)} for m in data]
    print_table(rows, [("name", "NAME"), ("email", "EMAIL"), ("phone", "PHONE"),
                       ("notify", "NOTIFY"), ("delivery", "LAST DELIVERY")],
                empty=f"{app_name} has no maintainers: add one with "
                f"`roost maintainers add {app_name} --name N --phone +15551234567`")


@app.command("add")
def maintainers_add(
    app_name: str = typer.Argument(..., metavar="APP"),
    name: str = typer.Option(..., "--name", help="the person's name"),
    email: str = typer.Option(None, "--email", help="email address"),
    phone: str = typer.Option(None, "--phone", help="E.164 phone number, e.g. +15551234567"),
    notify: list[str] = typer.Option(None, "--notify", help="an Apprise URL (repeatable)"),
) -> None:
    """Add a maintainer to APP."""
    body = {"name": name, "email": email, "phone": phone, "notify": notify or []}
    data = Client().request("POST", f"/apps/{app_name}/maintainers", json=body)
    ok(f"Added {data['name']} as a maintainer of {app_name}")


@app.command("remove")
def maintainers_remove(
    app_name: str = typer.Argument(..., metavar="APP"),
    email_or_phone: str = typer.Argument(..., metavar="EMAIL_OR_PHONE"),
) -> None:
    """Remove the maintainer with that email or phone from APP."""
    data = Client().request("DELETE", f"/apps/{app_name}/maintainers/{quote(email_or_phone)}")
    ok(f"Removed {data['name']} from {app_name}")


def _delivery(maintainer: dict[str, Any]) -> str:
    """Each channel's last error (as healthchecks shows a channel's), else "ok" or "-"."""
    parts = []
    for c in maintainer.get("channels", []):
        if c.get("last_error"):
            parts.append(f"{c['channel']}: {c['last_error'][:80]}")
        elif c.get("last_sent_at"):
            parts.append(f"{c['channel']}: ok")
    if maintainer.get("mail"):  # the platform's mail to them bounced or drew a complaint
        parts.append(f"mail {maintainer['mail'][:100]}")
    return "; ".join(parts) or "-"
