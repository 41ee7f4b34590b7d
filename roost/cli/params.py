"""Command-line values converted without pydantic, so running a command stays quick.

Typer converts every parameter value, a plain string included, through a pydantic
``TypeAdapter`` built on first use, and it builds one for the ``--help`` flag of each
command on the way to the one that runs: importing pydantic costs more than everything
else `roost apps` does. Roost's commands take ``str``, ``int``, ``float``, ``bool`` and
``Path`` values and lists of them; :func:`prepare` gives those parameters a converter
that does what typer's would, and leaves any other parameter to typer.

This fills a private slot of typer's parameters (``_runtime_param``, which typer fills
lazily); a parameter without that slot is left to typer. Should typer change how it
converts values, the commands still work, only slower to start, and
``tests/cli/test_startup.py`` fails to say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from typer import BadParameter, _coercion, core
from typer._click import Context
from typer._click.core import Command
from typer._param_types import coerce_cli_path

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}
_NAMES = {int: "integer", float: "number", bool: "boolean"}


def _convert(kind: Any, value: Any, param: core._TyperParameter, ctx: Context) -> Any:
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind is Path:
        return coerce_cli_path(Path(value), param.type_descriptor.parameter_info,
                               path_type=Path, param=param, ctx=ctx)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    if kind is bool and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    try:
        if kind is not bool:
            return kind(text)
    except ValueError:
        pass
    raise BadParameter(f"{value!r} is not a valid {_NAMES[kind]}.", ctx=ctx, param=param)


@dataclass(frozen=True)
class PlainParam(_coercion.RuntimeParam):
    """Converts a str, int, float, bool or Path value, or a list of one of them."""

    def _coerce_value(self, value: Any, param: core._TyperParameter, ctx: Context) -> Any:
        if get_origin(self.annotation) is list:
            (kind,) = get_args(self.annotation)
            return [_convert(kind, item, param, ctx) for item in value]
        return _convert(self.annotation, value, param, ctx)


def _plain(param: core._TyperParameter) -> bool:
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    kind = descriptor.annotation
    if get_origin(kind) is list:
        kind = get_args(kind)[0]
    if kind not in (str, int, float, bool, Path) or descriptor.file_annotation is not None:
        return False
    return (info.parser is None and info.min is None and info.max is None
            and not info.allow_dash and info.path_type is None and not info.resolve_path)


def prepare(command: Command) -> None:
    """Give ``command``'s parameters, its subcommands' and their ``--help`` flags
    pydantic-free converters where they take plain values."""
    params = [*command.params, command.get_help_option(Context(command))]
    for param in params:
        if (isinstance(param, core._TyperParameter) and _plain(param)
                and getattr(param, "_runtime_param", False) is None):
            param._runtime_param = PlainParam(parameter_info=param.type_descriptor
                                              .parameter_info, annotation=param
                                              .type_descriptor.annotation)
    for sub in getattr(command, "commands", {}).values():
        prepare(sub)
