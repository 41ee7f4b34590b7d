"""`roost hosts` and `roost recipes`: machines reached over SSH and the recipes that
configure them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import escape, ok, print_json, print_table, say

hosts = group("Hosts reached over SSH: add, list, facts, plan and apply recipes, log.")
recipes = group("Where the company's recipes come from (a folder or a git URL).",
                default="show")
LONG = 3600.0  # an apply on many hosts takes a while
KEY_NAMES = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA"}


def _key_name(kind: str) -> str:
    return KEY_NAMES.get(kind, "ECDSA" if kind.startswith("ecdsa") else kind.upper())


def _path(name: str) -> str:
    return f"/hosts/{quote(name, safe='')}"


@hosts.command("list")
def hosts_list(json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """List hosts: address, roles, reachability, OS and disk use."""
    data = Client().request("GET", "/hosts")
    if json:
        print_json(data)
        return
    rows = []
    for h in data:
        facts = h["facts"]
        disk = max((d["percent"] for d in facts.get("disks", [])), default=None)
        rows.append({"name": h["name"], "url": h["url"], "roles": ", ".join(h["roles"]) or "-",
                     "state": "up" if h["reachable"] else "UNREACHABLE",
                     "os": facts.get("distribution") or "-",
                     "disk": f"{disk:.0f}%" if disk is not None else "-",
                     "alerts": ", ".join(sorted(h["conditions"])) or "-"})
    print_table(rows, [("name", "NAME"), ("url", "SSH"), ("roles", "ROLES"), ("state", "STATE"),
                       ("os", "OS"), ("disk", "DISK"), ("alerts", "CONDITIONS")],
                empty="no hosts yet: add one with `roost hosts add NAME ssh://USER@HOST`")


def _read_key(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise CliError(f"cannot read --key {path}: {why}; give a readable private key "
                       "file, e.g. --key ~/.ssh/id_ed25519") from None


def _private_channel(url: str) -> bool:
    """Whether ``url`` keeps a private key private: HTTPS, or HTTP to this machine."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


def _confirm(name: str, scan: dict[str, Any], yes: bool, changed: bool = False) -> str:
    where = f"{scan['address']}" + (f":{scan['port']}" if scan["port"] != 22 else "")
    say(f"The host key of '{name} ({where})' has changed." if changed else
        f"The authenticity of host '{name} ({where})' can't be established.")
    say(f"{_key_name(scan['type'])} key fingerprint is {scan['fingerprint']}.")
    if yes:
        say("Pinned (--yes).")
        return str(scan["fingerprint"])
    if not sys.stdin.isatty():
        raise CliError(f"not pinning the host key of {name} without confirmation: check it "
                       f"on the machine (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and give "
                       f"--host-key {scan['fingerprint']} (or --yes)")
    sys.stdout.write("Are you sure you want to pin this key and continue (yes/no)? ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        raise CliError(f"host key of {name} not confirmed: nothing was stored")
    return str(scan["fingerprint"])


@hosts.command("add")
def hosts_add(
    name: str = typer.Argument(..., metavar="NAME"),
    url: str = typer.Argument(..., metavar="ssh://USER@HOST[:PORT]"),
    key: Path | None = typer.Option(None, "--key", metavar="FILE",
                                    help="private key to log in with (default: Roost's own)"),
    role: list[str] = typer.Option([], "--role", metavar="ROLE",
                                   help="a role (repeat for more): app, db, docker-node…"),
    app: list[str] = typer.Option([], "--app", metavar="APP",
                                  help="an app on this host: its maintainers get the host's "
                                  "alerts (repeat for more)"),
    host_key: str = typer.Option("", "--host-key", metavar="SHA256:…",
                                 help="the host key fingerprint to pin, for scripts"),
    yes: bool = typer.Option(False, "--yes", "-y", help="pin the key the host shows"),
    json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Add a host: pin its SSH host key, log in, gather its facts."""
    private_key = _read_key(key)
    client = Client(timeout=300.0)
    if private_key is not None and not _private_channel(client.creds.url):
        raise CliError(f"not sending a private key to {client.creds.url} over plain HTTP: "
                       "use the server's https:// URL (`roost login`), or add the host "
                       "without --key (Roost then logs in with its own key)")
    if not host_key:
        host_key = _confirm(name, client.request("POST", "/hosts/scan", json={"url": url}),
                            yes)
    data = client.request("POST", "/hosts", json={
        "name": name, "url": url, "host_key": host_key, "roles": role, "apps": app,
        "private_key": private_key})
    if json:
        print_json(data)
        return
    facts = data["facts"]
    ok(f"Added {data['name']} ({data['url']}, {_key_name(data['host_key_type'])} "
       f"{data['fingerprint']}): {escape(facts.get('distribution') or facts.get('os') or '?')}, "
       f"{facts.get('cpus') or '?'} CPUs, {facts.get('memory_mb') or '?'} MB")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}"
        n /= 1024
    return str(n)


def show_host(h: dict[str, Any]) -> None:
    """Print a host and its facts."""
    facts = h["facts"]
    ok(f"[bold]{h['name']}[/bold]  {h['url']}  roles: {', '.join(h['roles']) or '-'}")
    ok(f"  host key:   {_key_name(h['host_key_type'])} {h['fingerprint']}")
    state = "yes" if h["reachable"] else f"[red]no[/red]: {escape(h['last_error'])}"
    ok(f"  reachable:  {state}  (facts of {(h['facts_at'] or 'never')[:19]} UTC)")
    ok(f"  os:         {escape(facts.get('distribution') or '-')}, kernel "
       f"{escape(facts.get('kernel') or '-')}")
    ok(f"  cpus:       {facts.get('cpus') or '-'}   memory: {facts.get('memory_mb') or '-'} MB")
    for d in facts.get("disks", []):
        ok(f"  disk:       {escape(d['mount'])} {d['percent']:.0f}% used of {_size(d['size'])}")
    ok(f"  packages:   {facts.get('packages_count', 0)} installed")
    swarm = facts.get("swarm", {}).get("state")
    docker = facts.get("docker") or "not installed"
    ok(f"  docker:     {escape(docker)}" + (f" (swarm: {swarm})" if swarm else ""))
    pending = facts.get("security_updates", [])
    ok(f"  security:   {len(pending)} updates pending"
       + (f" ({escape(', '.join(pending[:8]))}{' …' if len(pending) > 8 else ''})"
          if pending else ""))
    ok(f"  reboot:     {'required' if facts.get('reboot_required') else 'not required'}")
    offset = facts.get("clock_offset_s")
    ok(f"  clock:      {'-' if offset is None else f'{offset:+.2f} s'}")
    if h["apps"]:
        ok(f"  apps:       {', '.join(h['apps'])}")
    for kind, since in sorted(h["conditions"].items()):
        ok(f"  [yellow]condition:  {kind} since {since[:19]} UTC[/yellow]")


@hosts.command("info")
def hosts_info(name: str = typer.Argument(..., metavar="NAME"),
               refresh: bool = typer.Option(False, "--refresh", help="gather facts again"),
               json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Show a host's facts: OS, kernel, CPUs, memory, disks, packages, Docker, updates."""
    data = Client(timeout=300.0).request("GET", _path(name), params={"refresh": refresh})
    if json:
        print_json(data)
        return
    show_host(data)


@hosts.command("rekey")
def hosts_rekey(
    name: str = typer.Argument(..., metavar="NAME"),
    host_key: str = typer.Option("", "--host-key", metavar="SHA256:…",
                                 help="the new host key fingerprint, for scripts"),
    yes: bool = typer.Option(False, "--yes", "-y", help="pin the key the host shows"),
) -> None:
    """Pin the new SSH host key of a rebuilt host (check it on its console first); its
    roles and apps stay."""
    client = Client(timeout=300.0)
    if not host_key:
        url = client.request("GET", _path(name))["url"]
        host_key = _confirm(name, client.request("POST", "/hosts/scan", json={"url": url}),
                            yes, changed=True)
    data = client.request("POST", f"{_path(name)}/host-key", json={"host_key": host_key})
    ok(f"Pinned the new host key of {name} ({_key_name(data['host_key_type'])} "
       f"{data['fingerprint']}); Roost logged in with it. If the machine was rebuilt, "
       "deploy its apps again to set them up there (their own recipes run again).")


@hosts.command("roles")
def hosts_roles(name: str = typer.Argument(..., metavar="NAME"),
                roles: list[str] = typer.Argument(None, metavar="ROLE",
                                                  help="the roles from now on; none clears")
                ) -> None:
    """Give a host new roles (replacing its roles), e.g. promote a swarm worker with
    `roost hosts roles NAME docker-manager`; then `roost hosts apply NAME`."""
    data = Client().request("POST", f"{_path(name)}/roles", json={"roles": roles or []})
    ok(f"{name} now has the roles: {', '.join(data['roles']) or '-'}; run `roost hosts plan "
       f"{name}` to see what changes, then `roost hosts apply {name}`")


@hosts.command("remove")
def hosts_remove(name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Forget a host (its pinned key, stored private key and facts)."""
    Client().request("DELETE", _path(name))
    ok(f"Removed {name}; nothing on the machine was changed")


def _target(name: str, role: str) -> dict[str, str]:
    if name and role:
        raise CliError("give a host NAME or --role ROLE, not both")
    return {"name": name, "role": role}


SYMBOLS = {True: "[yellow]+[/yellow]", None: "[yellow]~[/yellow]", False: "[dim]=[/dim]"}


@hosts.command("plan")
def hosts_plan(name: str = typer.Argument("", metavar="[NAME]"),
               role: str = typer.Option("", "--role", metavar="ROLE"),
               json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Show per host what applying the recipes would change (+), might change (~) or
    finds in place (=), with file diffs."""
    data = Client(timeout=LONG).request("POST", "/hosts/plan", json=_target(name, role))
    if json:
        print_json(data)
        return
    failed = False
    for host_name, entry in data["hosts"].items():
        ops = entry.get("operations", [])
        if entry.get("failed"):
            failed = True
            ok(f"[bold]{host_name}[/bold]: [red]cannot plan[/red]: {escape(entry['error'])}")
            continue
        count = {k: sum(1 for o in ops if o["will_change"] is k) for k in (True, None, False)}
        ok(f"[bold]{host_name}[/bold]: {count[True]} to change, {count[None]} might change, "
           f"{count[False]} in place")
        for op in ops:
            ok(f"  {SYMBOLS[op['will_change']]} {escape(op['name'])}")
            for line in op["diff"]:
                say(f"      {line}")
    if failed:
        raise CliError("some hosts could not be planned (see above)")


@hosts.command("apply")
def hosts_apply(name: str = typer.Argument("", metavar="[NAME]"),
                role: str = typer.Option("", "--role", metavar="ROLE"),
                batch: str = typer.Option("100%", "--batch", metavar="N|P%",
                                          help="hosts per batch, e.g. 25%"),
                max_failures: str = typer.Option("0", "--max-failures", metavar="N|P%",
                                                 help="failed hosts tolerated, e.g. 10%"),
                json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Apply the recipes in rolling batches; stop when more hosts fail than allowed."""
    data = Client(timeout=LONG).request("POST", "/hosts/apply", json={
        **_target(name, role), "batch": batch, "max_failures": max_failures})
    if json:
        print_json(data)
    else:
        for host_name, r in data["results"].items():
            if r["status"] == "ok":
                ok(f"{host_name}: [green]ok[/green], {r['changed']} changed, "
                   f"{r['unchanged']} unchanged (batch {r['batch']})")
            else:
                why = f" at {r['failed_operation']!r}" if r.get("failed_operation") else ""
                ok(f"{host_name}: [red]{r['status']}[/red]{escape(why)}: {escape(r['error'])}")
        ok(f"Apply {data['id']}: {data['status']}")
    if data["status"] != "ok":
        raise CliError(f"apply {data['id']} {data['status']}: "
                       f"{sum(r['status'] == 'failed' for r in data['results'].values())} "
                       "hosts failed; `roost hosts log` keeps the record")


@hosts.command("log")
def hosts_log(json: bool = typer.Option(False, "--json", help="JSON output"),
              limit: int = typer.Option(20, "-n", min=1, max=500, help="how many")) -> None:
    """The latest applies: who, when, on what, each host's result."""
    data = Client().request("GET", "/hosts/applies", params={"limit": limit})
    if json:
        print_json(data)
        return
    rows = []
    for a in data:
        results = a["results"].values()
        rows.append({"id": a["id"], "when": a["started_at"][:19], "by": a["actor"],
                     "target": a["target"], "status": a["status"],
                     "hosts": " ".join(f"{n}:{r['status']}" for n, r in a["results"].items()),
                     "changed": sum(r.get("changed", 0) for r in results)})
    print_table(rows, [("id", "ID"), ("when", "STARTED (UTC)"), ("by", "BY"),
                       ("target", "TARGET"), ("status", "STATUS"), ("changed", "CHANGED"),
                       ("hosts", "HOSTS")],
                empty="no applies yet: `roost hosts apply` runs the recipes")


@recipes.command("show")
def recipes_show(json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Show where the company's recipes come from."""
    data = Client().request("GET", "/recipes")
    if json:
        print_json(data)
        return
    if not data["source"]:
        ok("Only Roost's recipes (base, docker-node, postgres-server) run: set yours with "
           "`roost recipes set PATH_OR_GIT_URL`")
        return
    rev = f" at {data['revision'][:12]}" if data["revision"] else ""
    ok(f"Recipes from {escape(data['source'])}{rev} (set by {data['set_by']}, "
       f"{(data['set_at'] or '')[:19]} UTC)")


@recipes.command("set")
def recipes_set(source: str = typer.Argument(..., metavar="PATH_OR_GIT_URL")) -> None:
    """Use the recipes in a folder or git repository: all.py for every host, ROLE.py for
    hosts with that role."""
    data = Client(timeout=600.0).request("PUT", "/recipes", json={"source": source})
    rev = f" at {data['revision'][:12]}" if data["revision"] else ""
    ok(f"Recipes from {escape(data['source'])}{rev}; `roost hosts plan` shows what they "
       "would change")
