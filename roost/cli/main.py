"""The `roost` command: a thin client of the control plane API.

Start-up time is part of the interface: `roost --help` imports no command module, and a
command imports only its own module (and what that module needs). Each command is named
here with where it lives and its one-line help, and loaded when it is run or asked for
its own help.
"""

from __future__ import annotations

import importlib
import sys
from difflib import get_close_matches
from typing import Any

import typer
from typer._click import Context, HelpFormatter
from typer._click.core import Command
from typer._click.exceptions import UsageError
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from roost.cli.params import prepare

# name: ("module:attribute", one-line help, extra settings of the command). The help must
# match the first line of the command's own help (tests/cli/test_startup.py checks it).
COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "up": ("system:up", "Start Roost in the foreground (control plane, router, supervisor, "
           "monitors).", {}),
    "status": ("system:status", "Check that the platform answers and that the token is "
               "accepted.", {}),
    "login": ("system:login", "Point the CLI at a Roost server and check the token.", {}),
    "apps": ("apps:app", "Create, list, show and destroy apps.", {}),
    "maintainers": ("maintainers:app", "List, add and remove an app's maintainers.", {}),
    "config": ("config:app", "Show, set and unset an app's config vars.", {}),
    "addons": ("addons:app", "Add-ons of an app: databases, email, DNS.", {}),
    "email": ("email:app", "An app's email: log, inbox, suppressions, webhook, DNS records.",
              {}),
    "limits": ("limits:app", "Memory, CPU and process-count limits of an app's processes.", {}),
    "pg": ("pg:app", "An app's PostgreSQL database: info, psql, sessions, diagnose, "
           "credentials, backups.", {}),
    "deploy": ("deploy:deploy", "Build DIR (default .) with buildpacks and release it; "
               "streams the build live.", {}),
    "git": ("git:app", "Deploy with `git push`: the app's git remote and git's credential "
            "helper.", {}),
    "builds": ("deploy:builds", "List an app's builds.", {}),
    "rollback": ("deploy:rollback", "Make a new release from an earlier one (default: the "
                 "previous one).", {}),
    "perf": ("perf:perf", "Endpoints ranked by impact, or one endpoint's breakdown and sample "
             "traces.", {}),
    "export": ("deploy:export", "Write the manifests an app's release needs on another "
               "platform (Kubernetes).", {}),
    "releases": ("deploy:releases_app", "List and inspect an app's releases.", {}),
    "buildpacks": ("deploy:buildpacks_app", "Show and set the buildpacks an app builds with.",
                   {}),
    "vulns": ("vulns:app", "Vulnerable dependencies: findings, ignores and the advisory "
              "database.", {}),
    "monitors": ("monitors:monitors_app", "Uptime monitors: HTTP(S), TCP and TLS-expiry "
                 "checks.", {}),
    "incidents": ("monitors:incidents_app", "Outages: list and acknowledge.", {}),
    "maintenance": ("monitors:maintenance_app", "Maintenance windows: checks go on, pages are "
                    "held.", {}),
    "notify": ("monitors:notify_app", "Notifications to maintainers.", {}),
    "probe": ("monitors:probe", "Run an uptime probe in another location, reporting to the "
              "control plane.", {}),
    "ps": ("runtime:ps", "An app's processes: type, number, state, release, uptime, restarts.",
           {}),
    "scale": ("runtime:scale", "Set how many processes of each type run, as TYPE=N (web=2 "
              "worker=1).",
              {}),
    "restart": ("runtime:restart", "Restart an app's processes (web restarts hot, without "
                "dropping requests).", {}),
    "run": ("runtime:run", "Run a one-off command with the app's environment; exits with its "
            "exit code.", {"context_settings": {"allow_interspersed_args": False}}),
    "logs": ("runtime:logs", "Show an app's log (its processes' output and platform events).",
             {}),
    "domains": ("runtime:domains_app", "Custom domains of an app.", {}),
    "assets": ("assets:app", "Static assets: usage, publish plan, garbage collection.", {}),
    "dns": ("dns:app", "DNS zones and records as code: plan, apply, drift.", {}),
    "hosts": ("hosts:hosts", "Hosts reached over SSH: add, list, facts, plan and apply "
              "recipes, log.", {}),
    "recipes": ("hosts:recipes", "Where the company's recipes come from (a folder or a git "
                "URL).", {}),
}


def load(name: str) -> Command:
    """Import the command ``name`` and build its click command (with its subcommands)."""
    target, _, settings = COMMANDS[name]
    module_name, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(f"roost.cli.{module_name}"), attribute)
    # A one-entry Typer as the parent gives the command exactly what registering it on a
    # Typer root gives: its name, its help and plain (rich-free) help and error output.
    parent = typer.Typer(add_completion=False, rich_markup_mode=None)
    if isinstance(obj, typer.Typer):
        parent.add_typer(obj, name=name)
    else:
        parent.command(name, **settings)(obj)
    command = typer.main.get_group(parent).commands[name]
    prepare(command)
    return command


class LazyGroup(TyperGroup):
    """The root group: lists commands from COMMANDS and imports one only when it is used."""

    def list_commands(self, ctx: Context) -> list[str]:
        """The command names, in the order of COMMANDS."""
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The named command, imported on first use; None for an unknown name."""
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load(cmd_name)
        return self.commands[cmd_name]

    def resolve_command(self, ctx: Context, args: list[str]
                        ) -> tuple[str | None, Command | None, list[str]]:
        """The command named by ``args[0]``; a typo is refused with the closest names."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in exc.message:
                names = ", ".join(repr(m) for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The command list of `roost --help`, from COMMANDS: no command is imported."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, make_default_short_help(help_text, limit))
                for name, (_, help_text, _) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


cli = LazyGroup(name="roost", help="Roost: deploy, run and watch web apps on your own machines.",
                no_args_is_help=True, rich_markup_mode=None)
prepare(cli)


def main() -> None:
    """Entry point of the `roost` console script."""
    from roost.cli.client import CliError

    try:
        cli(standalone_mode=True)
    except CliError as exc:
        from roost.cli.output import fail

        fail(exc.message)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
