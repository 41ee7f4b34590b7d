"""`roost limits APP` and `roost limits set APP TYPE memory=512M cpu=1 pids=512`."""

from __future__ import annotations

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table

app = group("Memory, CPU and process-count limits of an app's processes.")


@app.command("list")
def limits_list(app_name: str = typer.Argument(..., metavar="APP"),
                json: bool = typer.Option(False, "--json")) -> None:
    """The limits of each process type (the defaults where none were set)."""
    data = Client().request("GET", f"/apps/{app_name}/limits")
    if json:
        print_json(data)
        return
    rows = [{"type": ptype, **values} for ptype, values in sorted(data["limits"].items())]
    print_table(rows, [("type", "TYPE"), ("memory", "MEMORY"), ("cpu", "CPU"),
                       ("pids", "PROCESSES")],
                empty=f"{app_name} has no process types yet; defaults: " + " ".join(
                    f"{k}={v}" for k, v in data["defaults"].items()))


@app.command("set")
def limits_set(app_name: str = typer.Argument(..., metavar="APP"),
               ptype: str = typer.Argument(..., metavar="TYPE"),
               pairs: list[str] = typer.Argument(..., metavar="memory=512M cpu=1 pids=512")
               ) -> None:
    """Set TYPE's limits; its running processes restart with them (web hot)."""
    body: dict[str, str] = {"type": ptype}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("memory", "cpu", "pids") or not value:
            raise CliError(f"cannot read {pair!r}: write memory=512M, cpu=1 or pids=512")
        body[key] = value
    data = Client(timeout=300).request("PUT", f"/apps/{app_name}/limits", json=body)
    now = data["limits"][ptype]
    ok(f"{app_name} {ptype}: memory={now['memory']} cpu={now['cpu']} pids={now['pids']}")
