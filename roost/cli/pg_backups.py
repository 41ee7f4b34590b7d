"""`roost pg backups`: an app's database backups: list, capture, restore, verify, download,
schedule.

``backups`` is the Typer group that `roost pg` (roost/cli/pg.py) mounts.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import typer

from roost.cli.client import Client, CliError, error_message
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table, say

backups = group("Backups of an app's database: list, capture, restore, verify, download, "
                "schedule.")

LONG = 3600.0  # captures, restores and verifications of big databases take a while


def _path(app_name: str, bid: str = "") -> str:
    tail = f"/{quote(bid, safe='')}" if bid else ""
    return f"/apps/{quote(app_name, safe='')}/pg/backups{tail}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


def _describe(b: dict[str, object]) -> str:
    why = f": {b['reason']}" if b.get("reason") else ""
    return f"{b['id']} {b['status']}{why}"


@backups.command("list")
def backups_list(app_name: str = typer.Argument(..., metavar="APP"),
                 json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """List APP's database backups, newest first, with the daily schedule."""
    data = Client().request("GET", _path(app_name))
    if json:
        print_json(data)
        return
    rows = [{**b, "size": _size(int(b["size"])), "created": (b["created_at"] or "")[:19],
             "tables": len(b["table_counts"]), "rows": sum(b["table_counts"].values())}
            for b in data["backups"]]
    print_table(rows, [("id", "ID"), ("created", "CREATED (UTC)"), ("trigger", "TRIGGER"),
                       ("status", "STATUS"), ("size", "SIZE"), ("tables", "TABLES"),
                       ("rows", "ROWS"), ("reason", "REASON")],
                empty=f"{app_name} has no backups: take one with "
                f"`roost pg backups capture {app_name}`")
    found = data.get("schedule")
    say(f"Daily backup at {found['at']} UTC" if found else
        f"No daily backup: set one with `roost pg backups schedule {app_name} --at 02:00`")


@backups.command("capture")
def backups_capture(app_name: str = typer.Argument(..., metavar="APP"),
                    json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Back up APP's database now (pg_dump -Fc into the object store)."""
    data = Client(timeout=LONG).request("POST", _path(app_name))
    if json:
        print_json(data)
        return
    ok(f"Captured {data['id']} of {app_name}: {_size(int(data['size']))}, "
       f"{len(data['table_counts'])} tables, {sum(data['table_counts'].values())} rows, "
       f"sha256 {data['sha256'][:12]}")


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise CliError(f"--time {text!r}: give a point in time with its time zone, e.g. "
                       "--time 2026-12-01T14:03:00Z")
    return when


@backups.command("restore")
def backups_restore(
    app_name: str = typer.Argument(..., metavar="APP"),
    bid: str = typer.Argument("", metavar="[BACKUP_ID]", help="e.g. b003 (or use --time)"),
    at: str = typer.Option("", "--time", metavar="TIME",
                           help="point in time, e.g. 2026-12-01T14:03:00Z"),
    confirm: str = typer.Option("", "--confirm", help="repeat the destination app's name"),
    to: str = typer.Option("", "--to", metavar="OTHER_APP",
                           help="restore into another app's database (a fork)"),
) -> None:
    """Restore BACKUP_ID (or the database as it was at --time) into APP's database (or
    OTHER_APP's): its tables are replaced."""
    if bool(bid) == bool(at):
        raise CliError("give either a BACKUP_ID or --time TIME to restore, not "
                       f"{'both' if bid else 'neither'}")
    when = _when(at) if at else None
    dest = to or app_name
    what = bid or f"{app_name}'s database to {at}"
    if confirm != dest:
        raise CliError(f"restoring {what} overwrites the database of {dest}: repeat the "
                       f"app's name to confirm: --confirm {dest}")
    body = {"confirm": confirm, "to": to or None}
    if when is not None:
        data = Client(timeout=LONG).request("POST", _path(app_name, "restore"),
                                            json={**body, "time": when.isoformat()})
    else:
        data = Client(timeout=LONG).request("POST", _path(app_name, bid) + "/restore",
                                            json=body)
    ok(data["message"])


@backups.command("verify")
def backups_verify(app_name: str = typer.Argument(..., metavar="APP"),
                   bid: str = typer.Argument(..., metavar="BACKUP_ID"),
                   json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Restore BACKUP_ID into a scratch database and compare it with its source."""
    data = Client(timeout=LONG).request("POST", _path(app_name, bid) + "/verify")
    if json:
        print_json(data)
    if data["status"] != "verified":
        raise CliError(f"backup {_describe(data)}")
    if not json:
        ok(f"Backup {data['id']} of {app_name} restores to the same {len(data['table_counts'])} "
           f"tables and {sum(data['table_counts'].values())} rows as its source")


@backups.command("download")
def backups_download(
    app_name: str = typer.Argument(..., metavar="APP"),
    bid: str = typer.Argument(..., metavar="BACKUP_ID"),
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE",
                                       help="write the backup to FILE"),
) -> None:
    """Print a time-limited URL of BACKUP_ID, or write it to a file (-o FILE)."""
    client = Client(timeout=LONG)
    if output is None:
        link = client.request("GET", _path(app_name, bid) + "/url")
        if link["url"]:
            say(link["url"])
            return
        output = Path(f"{app_name}-{bid}.dump")
    tmp = output.with_name(f".{output.name}.part")
    size = 0
    with client.stream("GET", _path(app_name, bid) + "/download") as response:
        if response.status_code >= 400:
            raise CliError(error_message(response))
        try:
            with tmp.open("wb") as fh:
                for chunk in response._chunks(lambda: response.raw.read(1024 * 1024)):
                    fh.write(chunk)
                    size += len(chunk)
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    ok(f"Wrote {bid} of {app_name} to {output} ({_size(size)}); restore it with "
       f"`pg_restore -d DATABASE {output}`")


@backups.command("schedule")
def backups_schedule(app_name: str = typer.Argument(..., metavar="APP"),
                     at: str = typer.Option(..., "--at", metavar="HH:MM",
                                            help="time of day, UTC (e.g. 02:00)")) -> None:
    """Back APP's database up every day at HH:MM (UTC), keeping 7 daily and 4 weekly."""
    data = Client().request("PUT", _path(app_name, "schedule"), json={"at": at})
    ok(f"{app_name}'s database is backed up every day at {data['at']} UTC "
       "(7 daily and 4 weekly kept)")
