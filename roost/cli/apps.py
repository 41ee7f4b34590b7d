"""`roost apps`: list, create, show and destroy apps."""

from __future__ import annotations

import typer

from roost.cli.client import Client
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

app = group("Create, list, show and destroy apps.")


@app.command("list")
def apps_list(json: bool = typer.Option(False, "--json", help="JSON output")
              ) -> None:
    """List apps."""
    data = Client().request("GET", "/apps")
    if json:
        print_json(data)
        return
    rows = [{"name": a["name"], "url": a["web_url"],
             "maintainers": ", ".join(m["name"] for m in a["maintainers"]) or "-"} for a in data]
    print_table(rows, [("name", "NAME"), ("url", "URL"), ("maintainers", "MAINTAINERS")],
                empty="no apps yet: create one with `roost apps create NAME`")


@app.command("create")
def apps_create(name: str, json: bool = typer.Option(False, "--json")) -> None:
    """Create an app."""
    data = Client().request("POST", "/apps", json={"name": name})
    if json:
        print_json(data)
    else:
        ok(f"Created {data['name']}: {data['web_url']}")


@app.command("info")
def apps_info(name: str, json: bool = typer.Option(False, "--json")) -> None:
    """Show an app."""
    data = Client().request("GET", f"/apps/{name}")
    if json:
        print_json(data)
        return
    ok(f"[bold]{data['name']}[/bold]")
    ok(f"  url:         {data['web_url']}")
    ok(f"  created:     {data['created_at']}")
    people = [f"{m['name']} {m['email'] or ''} {m['phone'] or ''}".strip()
              for m in data["maintainers"]]
    ok(f"  maintainers: {'; '.join(people) or 'none'}")


@app.command("destroy")
def apps_destroy(
    name: str,
    confirm: str = typer.Option("", "--confirm", help="repeat the app's name to confirm"),
) -> None:
    """Destroy an app and everything it owns."""
    Client().request("DELETE", f"/apps/{name}", params={"confirm": confirm})
    ok(f"Destroyed {name}")
