"""`roost apps`: list, create, show and destroy apps."""

from __future__ import annotations

import typer

from roost.cli.client import Client, CliError
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
def apps_create(name: str, json: bool = typer.Option(False, "--json"),
                runtime: str = typer.Option(None, "--runtime",
                                            help="vm: run on a VM of yours (with --host)"),
                host: str = typer.Option(None, "--host", help="the VM (see `roost hosts`)")
                ) -> None:
    """Create an app (on a VM with --runtime vm --host NAME)."""
    client = Client()
    body = {"name": name, **({"runtime": runtime} if runtime else {}),
            **({"host": host} if host else {})}
    data = client.request("POST", "/apps", json=body)
    if json:
        print_json(data)
    else:
        where = f" on {data['host']} (port {data['port']})" if data.get("host") else ""
        ok(f"Created {data['name']}{where}: {data['web_url']}")
        ok(f"Git remote: {client.creds.url}/git/{data['name']}.git "
           f"(`roost git remote {data['name']}` adds it; then `git push roost main`)")


@app.command("info")
def apps_info(name: str, json: bool = typer.Option(False, "--json")) -> None:
    """Show an app."""
    data = Client().request("GET", f"/apps/{name}")
    if json:
        print_json(data)
        return
    ok(f"[bold]{data['name']}[/bold]")
    ok(f"  url:         {data['web_url']}")
    if data.get("host"):
        ok(f"  runs on:     {data['host']} (vm runtime, port {data['port']})")
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


FORGES = {"github": ("GitHub", "Settings > Webhooks > Add webhook", "Payload URL", "Secret"),
          "gitlab": ("GitLab", "Settings > Webhooks", "URL", "Secret token"),
          "gitea": ("Gitea", "Settings > Webhooks > Add Webhook > Gitea", "Target URL",
                    "Secret")}


@app.command("hook")
def apps_hook(
    name: str = typer.Argument(..., metavar="APP"),
    provider: str = typer.Argument("", metavar="[github|gitlab|gitea]"),
    branch: str = typer.Option("main", "--branch", help="the branch whose pushes deploy"),
    remove: bool = typer.Option(False, "--remove", help="delete the forge's webhook"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Deploy on push from a forge: the webhook URL and a new secret (or list the hooks)."""
    client = Client()
    if not provider:
        hooks = client.request("GET", f"/apps/{name}/hooks")
        if json:
            print_json(hooks)
            return
        rows = [{**h, "url": client.creds.url + h["path"], "last": h["last_result"] or "-"}
                for h in hooks]
        print_table(rows, [("provider", "FORGE"), ("branch", "BRANCH"), ("url", "URL"),
                           ("last", "LAST DELIVERY")],
                    empty=f"{name} has no webhooks: `roost apps hook {name} github` makes one")
        return
    if provider not in FORGES:
        raise CliError(f"unknown forge {provider!r}: use github, gitlab or gitea")
    if remove:
        client.request("DELETE", f"/apps/{name}/hooks/{provider}")
        ok(f"Removed the {provider} webhook of {name}")
        return
    data = client.request("POST", f"/apps/{name}/hooks",
                          json={"provider": provider, "branch": branch})
    url = client.creds.url + data["path"]
    if json:
        print_json({**data, "url": url})
        return
    forge, where, url_field, secret_field = FORGES[provider]
    ok(f"{forge} webhook of {name}: pushes to {data['branch']} deploy")
    ok(f"  {url_field + ':':14}{url}")
    ok(f"  {'Content type:':14}application/json")
    ok(f"  {secret_field + ':':14}{data['secret']}")
    ok(f"Add it in the repository's {where}, with push events. The secret is shown only "
       "now; run this again for a new one.")
