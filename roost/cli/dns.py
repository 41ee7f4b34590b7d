"""`roost dns`: managed zones and records as code; plan, then apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from roost.cli.addons import parse_options
from roost.cli.client import Client, CliError, Response, error_message
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table, say

app = typer.Typer(help="DNS zones and records as code: plan, apply, drift.",
                  no_args_is_help=True)
zones_app = group("Managed zones: list, add and remove.")
REFRESH_HELP = ("read the whole zone at the provider (a plan of a few changed names reads only "
                "them while the last full reading is recent)")
app.add_typer(zones_app, name="zones")


def _zone(zone: str) -> str:
    return f"/dns/zones/{quote(zone.strip(), safe='')}"


@zones_app.command("list")
def zones_list(json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """The zones Roost manages, with their provider and record count."""
    data = Client().request("GET", "/dns/zones")
    if json:
        print_json(data)
        return
    rows = [{**z, "drift": "yes" if z["drift"] else "-",
             "applied": (z["applied_at"] or "never")[:19]} for z in data]
    print_table(rows, [("name", "ZONE"), ("provider", "PROVIDER"), ("records", "RECORDS"),
                       ("applied", "APPLIED"), ("drift", "DRIFT")],
                empty="Roost manages no zone: `roost dns zones add example.com --provider "
                "route53`")


@zones_app.command("add")
def zones_add(name: str = typer.Argument(..., metavar="ZONE"),
              provider: str = typer.Option(..., "--provider", help="route53 or powerdns"),
              option: list[str] = typer.Option(None, "--option", metavar="KEY=VALUE",
                                               help="credentials, endpoint (repeatable)"),
              app_name: str = typer.Option("", "--app", help="whose maintainers hear of drift"),
              update_threshold: float = typer.Option(0.3, "--update-threshold"),
              delete_threshold: float = typer.Option(0.3, "--delete-threshold")) -> None:
    """Manage ZONE at a provider; nothing is sent to it before `roost dns apply`."""
    data = Client().request("POST", "/dns/zones", json={
        "name": name, "provider": provider, "options": parse_options(option or []),
        "app": app_name, "update_threshold": update_threshold,
        "delete_threshold": delete_threshold})
    ok(f"Managing {data['name']} at {data['provider']}; add records with `roost dns set`, "
       f"then `roost dns plan {data['name']}`")


@zones_app.command("remove")
def zones_remove(name: str = typer.Argument(..., metavar="ZONE"),
                 confirm: str = typer.Option("", "--confirm", metavar="ZONE",
                                             help="repeat the zone's name to confirm"),
                 delete_records: bool = typer.Option(
                     False, "--delete-records",
                     help="delete the records Roost owns at the provider too")) -> None:
    """Stop managing ZONE. Its records stay at the provider unless --delete-records, which
    deletes those Roost owns (records made by hand are never touched)."""
    if confirm.strip().lower().rstrip(".") != name.strip().lower().rstrip("."):
        raise CliError(f"removing {name} stops Roost managing its records: repeat the zone's "
                       f"name to confirm: --confirm {name}")
    client = Client(timeout=600)
    with client.stream("DELETE", _zone(name), params={
            "confirm": confirm, "delete_records": "true" if delete_records else "false"}) as resp:
        resp.read()
    if resp.status_code >= 400:
        _apply_failed(resp, name)
    data = resp.json()
    for line in data["deleted"]:
        say("  " + line)
    if delete_records:
        ok(f"Stopped managing {data['zone']}: {data['forgotten']} records forgotten, "
           f"{len(data['deleted'])} changes applied at the provider (records made by hand "
           "left as they were)")
    else:
        ok(f"Stopped managing {data['zone']}: {data['forgotten']} records forgotten, left at "
           "the provider as they are (--delete-records deletes those Roost owns)")


@app.command("records")
def records(zone: str = typer.Argument(..., metavar="ZONE"),
            json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """A zone's records as Roost holds them."""
    data = Client().request("GET", _zone(zone) + "/records")
    if json:
        print_json(data)
        return
    rows = [{**r, "values": " ".join(r["values"])} for r in data]
    print_table(rows, [("name", "NAME"), ("type", "TYPE"), ("ttl", "TTL"), ("values", "VALUES"),
                       ("owner", "OWNER")],
                empty=f"{zone} has no records: `roost dns set {zone} www A 192.0.2.1`")


@app.command("set")
def set_record(zone: str = typer.Argument(..., metavar="ZONE"),
               name: str = typer.Argument(..., metavar="NAME", help="@ for the apex"),
               kind: str = typer.Argument(..., metavar="TYPE"),
               values: list[str] = typer.Argument(..., metavar="VALUE..."),
               ttl: int = typer.Option(3600, "--ttl", help="seconds")) -> None:
    """Set the NAME TYPE record of ZONE to VALUE… (applied by `roost dns apply`)."""
    data = Client().request("PUT", _zone(zone) + "/records",
                            json={"name": name, "type": kind, "values": values, "ttl": ttl})
    ok(f"Set {data['fqdn']} {data['type']} {' '.join(data['values'])} (ttl {data['ttl']}); "
       f"`roost dns apply {zone}` sends it")


@app.command("unset")
def unset_record(zone: str = typer.Argument(..., metavar="ZONE"),
                 name: str = typer.Argument(..., metavar="NAME"),
                 kind: str = typer.Argument(None, metavar="[TYPE]")) -> None:
    """Remove the records at NAME (of TYPE, or all) from ZONE."""
    params = {"type": kind} if kind else None
    data = Client().request("DELETE", _zone(zone) + f"/records/{quote(name, safe='')}",
                            params=params)
    ok(f"Removed {name} {' '.join(data['removed'])} from {data['zone']}; "
       f"`roost dns apply {zone}` sends it")


@app.command("export")
def export(zone: str = typer.Argument(..., metavar="ZONE"),
           output: Path = typer.Option(None, "-o", "--output", help="write to FILE")) -> None:
    """A zone's records as octoDNS YAML (on stdout, or to FILE)."""
    text = Client().request("GET", _zone(zone) + "/export")["yaml"]
    if output is None:
        say(text.rstrip("\n"))
        return
    output.write_text(text)
    ok(f"Wrote {zone} to {output}")


@app.command("import")
def import_zone(zone: str = typer.Argument(..., metavar="ZONE"),
                path: Path = typer.Argument(..., metavar="FILE")) -> None:
    """Replace ZONE's records with those of an octoDNS YAML FILE (not applied yet)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    data = Client(timeout=300).request("POST", _zone(zone) + "/import",
                                       json={"yaml": text, "source": path.name})
    ok(f"Imported {data['records']} records into {data['zone']}; review with `roost dns plan "
       f"{data['zone']}`")


def _zones(zone: str | None) -> list[str]:
    if zone:
        return [zone]
    return [z["name"] for z in Client().request("GET", "/dns/zones")]


def _print_plan(plan: dict[str, Any], verbose: bool) -> None:
    counts = plan["counts"]
    shown = [c for c in plan["changes"] if verbose or not c["ownership"]]
    owned = len(plan["changes"]) - len([c for c in plan["changes"] if not c["ownership"]])
    if not plan["changes"]:
        say(f"{plan['zone']}: no changes")
        return
    say(f"{plan['zone']}: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete ({plan['existing']} records at the provider)")
    for change in shown:
        say("  " + change["line"])
    if owned and not verbose:
        say(f"  and {owned} ownership records (--verbose shows them)")
    if plan["unsafe"]:
        say(f"  [yellow]unsafe[/yellow]: {plan['unsafe']}; apply needs --force")
    if plan.get("read"):
        say(f"  ({plan['read']}; --refresh reads the whole zone)")


@app.command("plan")
def plan(zone: str = typer.Argument(None, metavar="[ZONE]"),
         verbose: bool = typer.Option(False, "--verbose", help="show ownership records too"),
         refresh: bool = typer.Option(False, "--refresh", help=REFRESH_HELP),
         json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """What `roost dns apply` would change at the provider (every zone without ZONE)."""
    client = Client(timeout=600)
    params = {"refresh": "true"} if refresh else None
    plans = [client.request("GET", _zone(z) + "/plan", params=params) for z in _zones(zone)]
    if json:
        print_json(plans)
        return
    if not plans:
        say("Roost manages no zone")
    for found in plans:
        _print_plan(found, verbose)


@app.command("apply")
def apply(zone: str = typer.Argument(None, metavar="[ZONE]"),
          force: bool = typer.Option(False, "--force", help="apply over the safety thresholds"),
          refresh: bool = typer.Option(False, "--refresh", help=REFRESH_HELP),
          json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Apply the plan of ZONE (every zone without ZONE) at its provider."""
    client = Client(timeout=600)
    results = []
    names = _zones(zone)
    if not names and not json:
        say("Roost manages no zone")
    for name in names:
        with client.stream("POST", _zone(name) + "/apply", json={"force": force, "refresh": refresh}
                           ) as resp:
            resp.read()
        if resp.status_code >= 400:
            _apply_failed(resp, name)
        data = resp.json()
        results.append(data)
        if not json:
            if data["applied"]:
                _print_plan(data, False)
            ok(f"{name}: applied {data['applied']} changes"
               + (f" in {len(data['batches'])} batches" if len(data["batches"]) > 1 else ""))
    if json:
        print_json(results)


def _apply_failed(resp: Response, zone: str) -> None:
    try:
        error = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    for line in error.get("applied") or []:
        say(f"  applied:     {line}")
    for line in error.get("not_applied") or []:
        say(f"  not applied: {line}")
    raise CliError(error_message(resp))
