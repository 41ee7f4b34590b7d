"""`roost deploy`, `builds`, `releases`, `rollback` and `buildpacks`."""

from __future__ import annotations

import json as jsonlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from roost.cli.client import Client, CliError, error_message
from roost.cli.groups import group
from roost.cli.output import ok, print_json, print_table, say


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _source_version(directory: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def deploy(
    app_name: str = typer.Argument(..., metavar="APP"),
    directory: Path = typer.Argument(Path("."), metavar="[DIR]", help="the app's source"),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="upload nothing; list the steps a deploy would run"),
    json: bool = typer.Option(False, "--json", help="with --dry-run: the plan as JSON"),
) -> None:
    """Build DIR (default .) with buildpacks and release it; streams the build live."""
    if json and not dry_run:
        raise CliError("--json goes with --dry-run (a deploy streams its build output)")
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory: give the app's source directory")
    if dry_run:
        show_plan(app_name, json)
        return
    from roost.build.archive import pack_source

    client = Client(timeout=None)
    client.request("GET", f"/apps/{app_name}")  # fail fast on a wrong app name
    with tempfile.TemporaryDirectory(prefix="roost-deploy-") as tmp:
        started = time.monotonic()
        archive = pack_source(directory.resolve(), Path(tmp) / "source.tar.gz")
        size = archive.stat().st_size
        say(f"-----> Packed {directory} ({_size(size)}) in {time.monotonic() - started:.1f}s")
        result = _upload_and_stream(client, app_name, archive, size,
                                    _source_version(directory))
    ok(f"-----> Released v{result['release']} of {app_name}")


def show_plan(app_name: str, json: bool) -> None:
    """Print the steps a deploy of APP would run, numbered, skipped ones with their reason."""
    plan: dict[str, Any] = Client().request("GET", f"/apps/{app_name}/deploy-plan")
    if json:
        print_json(plan)
        return
    steps: list[dict[str, Any]] = plan["steps"]
    ok(f"A deploy of {plan['app']} would run (dry run: nothing uploaded, nothing changed):")
    width = max((len(step["name"]) for step in steps), default=0)
    for number, step in enumerate(steps, 1):
        line = f"{number:>3}. {step['name']:<{width}}  {step['description']}"
        if not step["runs"]:
            line += f"  [dim](skipped: {step['reason'] or 'not needed'})[/dim]"
        ok(line)


def _upload_and_stream(client: Client, app_name: str, archive: Path, size: int,
                       version: str) -> dict[str, object]:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        DownloadColumn(), TransferSpeedColumn(), console=Console(),
                        transient=True)

    def body():  # type: ignore[no-untyped-def]
        with archive.open("rb") as fh, progress:
            task = progress.add_task("Uploading", total=size)
            while chunk := fh.read(256 * 1024):
                progress.advance(task, len(chunk))
                yield chunk

    with client.stream("POST", f"/apps/{app_name}/builds", content=body(),
                       headers={"content-type": "application/gzip",
                                "x-source-version": version}) as response:
        if response.status_code >= 400:
            response.read()
            raise CliError(error_message(response))
        for line in response.iter_lines():
            if not line.strip():
                continue
            event = jsonlib.loads(line)
            kind = event.get("type")
            if kind == "output":
                say(event["line"])
            elif kind == "step":
                say(f"-----> {event['message']}")
            elif kind == "result":
                return dict(event)
            elif kind == "error":
                tail = event.get("tail") or ""
                if tail:
                    say(tail)
                step = f" at step {event['step']}" if event.get("step") else ""
                raise CliError(f"deploy of {app_name} failed{step}: {event['message']}")
    raise CliError(f"the server closed the build stream of {app_name} without a result; "
                   f"`roost builds {app_name}` shows what happened")


def builds(app_name: str = typer.Argument(..., metavar="APP"),
           json: bool = typer.Option(False, "--json")) -> None:
    """List an app's builds."""
    data = Client().request("GET", f"/apps/{app_name}/builds")
    if json:
        print_json(data)
        return
    rows = [{**b, "release": f"v{b['release']}" if b["release"] else "-",
             "slug": _size(b["slug_size"]), "buildpacks": ", ".join(b["buildpacks"]),
             "error": (b["error"] or "")[:60]} for b in data]
    print_table(rows, [("id", "BUILD"), ("status", "STATUS"), ("started_at", "STARTED"),
                       ("release", "RELEASE"), ("slug", "SLUG"), ("buildpacks", "BUILDPACKS"),
                       ("error", "ERROR")], empty=f"{app_name} has no builds yet")


releases_app = group("List and inspect an app's releases.")


@releases_app.command("list")
def releases_list(app_name: str = typer.Argument(..., metavar="APP"),
                  json: bool = typer.Option(False, "--json")) -> None:
    """List an app's releases, newest first."""
    data = Client().request("GET", f"/apps/{app_name}/releases")
    if json:
        print_json(data)
        return
    rows = [{**r, "version": ("* " if r["current"] else "  ") + f"v{r['version']}",
             "commit": (r.get("commit") or "-")[:7]} for r in data]
    print_table(rows, [("version", "VERSION"), ("status", "STATUS"), ("commit", "COMMIT"),
                       ("description", "DESCRIPTION"), ("actor", "BY"),
                       ("created_at", "CREATED")], empty=f"{app_name} has no releases yet")


@releases_app.command("info")
def releases_info(app_name: str = typer.Argument(..., metavar="APP"),
                  version: str = typer.Argument(..., metavar="vN"),
                  json: bool = typer.Option(False, "--json")) -> None:
    """Show one release."""
    data = Client().request("GET", f"/apps/{app_name}/releases/{version}")
    if json:
        print_json(data)
        return
    ok(f"[bold]{app_name} v{data['version']}[/bold]{' (current)' if data['current'] else ''}")
    for key in ("status", "description", "commit", "actor", "created_at", "build", "slug_key"):
        ok(f"  {key + ':':13}{data[key]}")
    ok(f"  {'slug size:':13}{_size(data['slug_size'])}")
    for name, command in data["process_types"].items():
        ok(f"  {name}: {command}")
    ok(f"  {'config:':13}{', '.join(data['config_keys']) or 'none'}")
    if data["error"]:
        ok(f"  {'error:':13}{data['error']}")


def rollback(app_name: str = typer.Argument(..., metavar="APP"),
             version: str = typer.Argument(None, metavar="[vN]")) -> None:
    """Make a new release from an earlier one (default: the previous one)."""
    data = Client(timeout=600).request("POST", f"/apps/{app_name}/rollback",
                                       json={"release": version})
    ok(f"Rolled back {app_name}: v{data['version']} ({data['description']})")


buildpacks_app = group("Show and set the buildpacks an app builds with.")


@buildpacks_app.command("list")
def buildpacks_list(app_name: str = typer.Argument(..., metavar="APP"),
                    json: bool = typer.Option(False, "--json")) -> None:
    """Show the app's buildpacks."""
    data = Client().request("GET", f"/apps/{app_name}/buildpacks")
    if json:
        print_json(data)
    elif data["buildpacks"]:
        for i, ref in enumerate(data["buildpacks"], 1):
            ok(f"{i}. {ref}")
    else:
        ok(f"{app_name} uses its .buildpacks file, else auto-detection (python, nodejs, procfile)")


@buildpacks_app.command("set")
def buildpacks_set(app_name: str = typer.Argument(..., metavar="APP"),
                   urls: list[str] = typer.Argument(..., metavar="URL...")) -> None:
    """Set the app's buildpacks, in order."""
    Client().request("PUT", f"/apps/{app_name}/buildpacks", json={"buildpacks": urls})
    ok(f"Set {len(urls)} buildpack(s) on {app_name}; the next deploy uses them")


@buildpacks_app.command("clear")
def buildpacks_clear(app_name: str = typer.Argument(..., metavar="APP")) -> None:
    """Go back to the .buildpacks file or auto-detection."""
    Client().request("DELETE", f"/apps/{app_name}/buildpacks")
    ok(f"Cleared the buildpacks of {app_name}")


def export(app_name: str = typer.Argument(..., metavar="APP"),
           format: str = typer.Option("kubernetes", "--format",
                                      help="the only format: kubernetes"),
           image: str = typer.Option("", "--image",
                                     help="stack image with bash, curl and tar"),
           run: list[str] = typer.Option([], "--run", help="a one-off command (a Job each)"),
           release: str = typer.Option("", "--release", help="e.g. v3 (default: current)"),
           output: Path | None = typer.Option(None, "-o", "--output",
                                              help="write to this file instead of stdout"),
           ) -> None:
    """Write the manifests an app's release needs on another platform (Kubernetes)."""
    if format != "kubernetes":
        raise CliError(f"unknown format {format!r}: the one format is kubernetes")
    params: dict[str, Any] = {"format": format, "run": run}
    if image:
        params["image"] = image
    if release:
        params["release"] = release
    response = Client(timeout=120).send("GET", f"/apps/{app_name}/export", params=params)
    text = response.read().decode()
    if output is None:
        sys.stdout.write(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    ok(f"Wrote {output} (it holds {app_name}'s config vars: keep it private)")
