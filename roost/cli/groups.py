"""A command group whose bare form runs a default command: `roost config APP` lists."""

from __future__ import annotations

from typing import Any

import typer
from typer._click.core import Context
from typer.core import TyperGroup


class DefaultGroup(TyperGroup):
    """Runs the ``list`` command when the first argument is not a subcommand."""

    default_command = "list"

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Insert the default command unless a subcommand or --help was given."""
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Context) -> list[str]:
        """Hide the default command from help listings' order noise, keep the rest."""
        return [name for name in self.commands if name != self.default_command] + [
            self.default_command
        ]


def group(help_text: str, default: str = "list", **kwargs: Any) -> typer.Typer:
    """A Typer group whose bare form runs its ``default`` command."""
    cls = type(f"DefaultGroup_{default}", (DefaultGroup,), {"default_command": default})
    return typer.Typer(help=help_text, cls=cls, **kwargs)
