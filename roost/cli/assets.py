"""`roost assets`: an app's static files in the object store."""

from __future__ import annotations

import typer

from roost.cli.client import Client
from roost.cli.groups import group
from roost.cli.output import ok, print_json

app = group("Static assets: usage, publish plan, garbage collection.", default="show")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


@app.command("show")
def show(app_name: str = typer.Argument(..., metavar="APP"),
         json: bool = typer.Option(False, "--json")) -> None:
    """Count, total size and last publish of APP's assets."""
    data = Client().request("GET", f"/apps/{app_name}/assets")
    if json:
        print_json(data)
        return
    ok(f"{data['files']} files ({data['objects']} objects with compressed variants), "
       f"{_size(data['total_bytes'])}, last published {data['last_published'] or 'never'}")
    ok(f"served from {data['asset_host']}")


@app.command("publish")
def publish(app_name: str = typer.Argument(..., metavar="APP"),
            dry_run: bool = typer.Option(True, "--dry-run", help="show the plan (the default)"),
            json: bool = typer.Option(False, "--json")) -> None:
    """Show what publishing the current release's static folder would do."""
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/assets/publish")
    if json:
        print_json(data)
        return
    ok(f"new: {len(data['new'])} ({_size(data['bytes_new'])}), unchanged: {data['unchanged']}, "
       f"to delete once unused: {len(data['to_delete'])}")
    for key in data["new"][:20]:
        ok(f"  + {key}")


@app.command("gc")
def collect(app_name: str = typer.Argument(..., metavar="APP"),
            dry_run: bool = typer.Option(False, "--dry-run", help="only list what would go"),
            json: bool = typer.Option(False, "--json")) -> None:
    """Delete assets that neither the current nor the 5 previous releases use."""
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/assets/gc",
                                       params={"dry_run": dry_run})
    if json:
        print_json(data)
        return
    verb = "Would delete" if dry_run else "Deleted"
    ok(f"{verb} {len(data['deleted'])} objects ({_size(data['bytes_freed'])}); "
       f"kept {data['kept']}")


@app.command("set")
def set_folder(app_name: str = typer.Argument(..., metavar="APP"),
               folder: str = typer.Option(None, "--dir", help="e.g. public; omit to detect")
               ) -> None:
    """Choose the static folder published on each deploy."""
    data = Client().request("PUT", f"/apps/{app_name}/assets/settings", json={"dir": folder})
    ok(f"{app_name} publishes {data['dir'] or 'the first of public/, static/, staticfiles/'}")
