"""The `roost` command: a thin client of the control plane API."""

from __future__ import annotations

import sys

import typer

from roost.cli import (
    apps,
    assets,
    config,
    deploy,
    limits,
    maintainers,
    monitors,
    perf,
    runtime,
    system,
    vulns,
)
from roost.cli.client import CliError
from roost.cli.output import fail

cli = typer.Typer(
    name="roost",
    help="Roost: deploy, run and watch web apps on your own machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.command("up")(system.up)
cli.command("status")(system.status)
cli.command("login")(system.login)
cli.add_typer(apps.app, name="apps")
cli.add_typer(maintainers.app, name="maintainers")
cli.add_typer(config.app, name="config")
cli.command("deploy")(deploy.deploy)
cli.command("builds")(deploy.builds)
cli.command("rollback")(deploy.rollback)
cli.command("perf")(perf.perf)
cli.add_typer(deploy.releases_app, name="releases")
cli.add_typer(deploy.buildpacks_app, name="buildpacks")
cli.add_typer(vulns.app, name="vulns")
cli.add_typer(monitors.monitors_app, name="monitors")
cli.add_typer(monitors.incidents_app, name="incidents")
cli.add_typer(monitors.maintenance_app, name="maintenance")
cli.add_typer(monitors.notify_app, name="notify")
cli.command("probe")(monitors.probe)
cli.command("ps")(runtime.ps)
cli.command("scale")(runtime.scale)
cli.command("restart")(runtime.restart)
cli.command("run", context_settings={"allow_interspersed_args": False})(runtime.run)
cli.command("logs")(runtime.logs)
cli.add_typer(runtime.domains_app, name="domains")
cli.add_typer(assets.app, name="assets")
cli.add_typer(limits.app, name="limits")

# Later command groups register here: (typer app or function, name).
EXTRA_GROUPS: list[tuple[typer.Typer, str]] = []


def main() -> None:
    """Entry point of the `roost` console script."""
    for group, name in EXTRA_GROUPS:
        cli.add_typer(group, name=name)
    try:
        cli(standalone_mode=True)
    except CliError as exc:
        fail(exc.message)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
