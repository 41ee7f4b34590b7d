"""`roost vulns`: vulnerable dependencies of apps and of local lockfiles.

Exit codes: 0 no findings, 1 findings, 2 an error (unreadable file, empty database).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import typer

from roost.cli.client import Client, CliError
from roost.cli.groups import group
from roost.cli.output import escape, ok, print_json, print_table

app = group("Vulnerable dependencies: findings, ignores and the advisory database.")
db_app = group("The OSV advisory database.", default="stats")
app.add_typer(db_app, name="db")

COLUMNS = [("severity", "SEVERITY"), ("package", "PACKAGE"), ("version", "VERSION"),
           ("fixed", "FIXED IN"), ("id", "ID"), ("aliases", "ALIASES"),
           ("lockfile", "LOCKFILE"), ("dev", "DEV")]


def _rows(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**f, "severity": f["severity"] or "unknown", "fixed": f["fixed"] or "-",
             "aliases": ", ".join(i for i in f["ids"] if i != f["id"]),
             "dev": "dev" if f["dev"] else ""} for f in findings]


def _not_evaluated(entries: list[dict[str, Any]]) -> None:
    """Name each advisory that could not be evaluated, and count the dependencies."""
    for n in entries:
        if n.get("id"):
            ok(escape(f"not evaluated: {n['id']} for {n['package']} {n['version']} "
                      f"({n['lockfile']}): {n['reason']}"))
    deps = [n for n in entries if not n.get("id")]
    if deps:
        ok(f"[dim]{len(deps)} dependencies not evaluated (e.g. "
           + escape(f"{deps[0]['package']}: {deps[0]['reason']}") + ")[/dim]")


def _render(report: dict[str, Any], fmt: str, json: bool) -> None:
    if fmt == "sarif" or json:
        print_json(report)
    else:
        print_table(_rows(report["findings"]), COLUMNS,
                    empty=f"no known vulnerabilities in {report['dependencies']} dependencies")
        _not_evaluated(report.get("not_evaluated") or [])
    raise typer.Exit(1 if report.get("findings") or report.get("runs", [{}])[0].get("results")
                     else 0)


def _check_format(fmt: str) -> str:
    if fmt not in ("table", "sarif"):
        raise CliError(f"unknown format {fmt!r}: use --format sarif or --json", exit_code=2)
    return fmt


@app.command("list")
def show(app_name: str = typer.Argument(..., metavar="APP"),
         json: bool = typer.Option(False, "--json"),
         fmt: str = typer.Option("table", "--format", help="table or sarif")) -> None:
    """The vulnerable dependencies of APP's current release."""
    _check_format(fmt)
    try:
        report = Client().request("GET", f"/apps/{app_name}/vulns",
                                  params={"format": "sarif" if fmt == "sarif" else "json"})
    except CliError as exc:
        raise CliError(exc.message, exit_code=2) from exc
    _render(report, fmt, json)


@app.command("scan")
def scan(path: Path = typer.Argument(..., help="a directory or a lockfile"),
         json: bool = typer.Option(False, "--json"),
         fmt: str = typer.Option("table", "--format", help="table or sarif")) -> None:
    """Scan local lockfiles against the advisory database (no server needed)."""
    from roost.errors import RoostError
    from roost.monitor import vulns
    from roost.settings import load_settings
    from roost.store.session import make_engine, make_sessionmaker

    _check_format(fmt)
    if not path.exists():
        raise CliError(f"{path} does not exist: give a directory or a lockfile", exit_code=2)
    try:
        settings = load_settings()
        engine = make_engine(settings.effective_database_url)
        with make_sessionmaker(engine)() as session:
            report = vulns.scan_directory(path, session)
        engine.dispose()
    except RoostError as exc:
        raise CliError(str(exc), exit_code=2) from exc
    except Exception as exc:  # a database that is not Roost's: say so instead of a traceback
        raise CliError(f"cannot read the advisory database: {exc}; import one with "
                       "`roost vulns db import PATH`", exit_code=2) from exc
    _render(vulns.to_sarif(report) if fmt == "sarif" else vulns.to_json(report), fmt, json)


@app.command("ignore")
def ignore(app_name: str = typer.Argument(..., metavar="APP"),
           advisory_id: str = typer.Argument(..., metavar="ID"),
           reason: str = typer.Option(..., "--reason", help="why the risk is accepted"),
           until: str = typer.Option(None, "--until", help="YYYY-MM-DD; the ignore ends after")
           ) -> None:
    """Accept a risk until a date (covers every alias of the id)."""
    data = Client().request("POST", f"/apps/{app_name}/vulns/ignores",
                            json={"id": advisory_id, "reason": reason, "until": until})
    ok(f"Ignoring {', '.join(data['ids'])} on {app_name}"
       + (f" until {data['until']}" if data["until"] else ""))


@app.command("unignore")
def unignore(app_name: str = typer.Argument(..., metavar="APP"),
             advisory_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Stop ignoring an advisory."""
    Client().request("DELETE", f"/apps/{app_name}/vulns/ignores/{advisory_id}")
    ok(f"No longer ignoring {advisory_id} on {app_name}")


@db_app.command("stats")
def db_stats(json: bool = typer.Option(False, "--json")) -> None:
    """Advisory counts per ecosystem and the last update."""
    data = Client().request("GET", "/vulns/db")
    if json:
        print_json(data)
        return
    rows = [{"ecosystem": k, "advisories": v} for k, v in sorted(data["per_ecosystem"].items())]
    print_table(rows, [("ecosystem", "ECOSYSTEM"), ("advisories", "ADVISORIES")],
                empty="the advisory database is empty: `roost vulns db update` or "
                "`roost vulns db import PATH`")
    ok(f"total {data['total']} ({data['withdrawn']} withdrawn), "
       f"last update {data['last_update'] or 'never'}")


def _zip_dir(directory: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(directory.rglob("*.json")):
            zf.write(f, f.relative_to(directory).as_posix())
    return buf.getvalue()


def _print_import(data: dict[str, Any]) -> None:
    ok(f"Imported {data['added']} new and {data['updated']} updated advisories "
       f"({data['unchanged']} unchanged)")
    for name, count in sorted(data["rescanned"].items()):
        if count:
            ok(f"  {name}: {count} new findings")


@db_app.command("import")
def db_import(source: str = typer.Argument(..., metavar="PATH",
                                           help="a directory of OSV JSON, a zip, or a URL")
              ) -> None:
    """Import OSV advisories and re-scan the apps they concern."""
    client = Client(timeout=3600)
    if source.startswith(("http://", "https://")):
        data = client.request("POST", "/vulns/db/import", params={"url": source})
    else:
        path = Path(source)
        if path.is_dir():
            body = _zip_dir(path)
        elif path.is_file() and path.suffix == ".json":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.write(path, path.name)
            body = buf.getvalue()
        elif path.is_file():
            body = path.read_bytes()
        else:
            raise CliError(f"{source} is not a directory, a file or an http(s) URL", exit_code=2)
        data = client.request("POST", "/vulns/db/import", content=body,
                              headers={"content-type": "application/zip"})
    _print_import(data)


@db_app.command("update")
def db_update() -> None:
    """Re-import the configured sources (ROOST_ADVISORY_SOURCES) and re-scan."""
    _print_import(Client(timeout=3600).request("POST", "/vulns/db/update"))


