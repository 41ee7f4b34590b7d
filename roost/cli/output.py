"""Printing for the CLI: tables and JSON to stdout, errors as one line to stderr.

Plain standard library on purpose: every command prints through here, and rich costs
more start-up time than the rest of a command like `roost apps` together. Messages may
carry the few style tags the commands use (``[bold]``, ``[dim]``, ``[red]``, ``[green]``,
``[yellow]`` and their closing forms); they become ANSI colours on a terminal and are
dropped elsewhere (and when ``NO_COLOR`` is set). Text from elsewhere (a package name,
a server's message) goes through :func:`escape`, so that a ``[dim]`` in it stays text.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}
_TAG = re.compile(r"(\\?)\[(/?)(" + "|".join(_CODES) + r")\]")


def escape(text: str) -> str:
    """``text`` with every style tag in it marked to print as written."""
    return _TAG.sub(lambda m: "\\" + m.group(0).lstrip("\\"), text)


def _colour() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def render(message: str, colour: bool | None = None) -> str:
    """``message`` with its style tags turned into ANSI codes, or removed without colour."""
    if colour is None:
        colour = _colour()
    open_styles: list[str] = []
    out: list[str] = []
    last = 0
    for match in _TAG.finditer(message):
        out.append(message[last:match.start()])
        last = match.end()
        escaped, closing, name = match.groups()
        if escaped:
            out.append(match.group(0)[1:])
            continue
        if not colour:
            continue
        if not closing:
            open_styles.append(_CODES[name])
        elif _CODES[name] in open_styles:  # close the innermost open one of that name
            del open_styles[len(open_styles) - 1 - open_styles[::-1].index(_CODES[name])]
        out.append("\x1b[0m" + "".join(f"\x1b[{code}m" for code in open_styles))
    out.append(message[last:])
    return "".join(out) + ("\x1b[0m" if open_styles else "")


def print_json(data: Any) -> None:
    """Print data as indented JSON (for --json)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: Any) -> list[str]:
    return ("" if value is None else str(value)).splitlines() or [""]


def table_lines(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]
                ) -> list[str]:
    """A table's lines: the headings, then each row (a multi-line cell takes more than one
    line), columns two spaces apart, no trailing blanks."""
    grid = [[_cell(heading) for _, heading in columns]]
    grid += [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(_width(part) for line in grid for part in line[i])
              for i in range(len(columns))]
    lines: list[str] = []
    for line in grid:
        for depth in range(max(len(cell) for cell in line)):
            parts = [cell[depth] if depth < len(cell) else "" for cell in line]
            padded = (p + " " * (w - _width(p)) for p, w in zip(parts, widths, strict=True))
            lines.append("  ".join(padded).rstrip())
    return lines


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
                empty: str = "nothing to show") -> None:
    """Print rows as a table; ``columns`` are (key, heading) pairs, headings one line."""
    if not rows:
        ok(f"[dim]{empty}[/dim]")
        return
    header, *body = table_lines(rows, columns)
    ok(f"[bold]{header}[/bold]")
    sys.stdout.write("".join(line + "\n" for line in body))


def fail(message: str) -> None:
    """Print an error line to stderr."""
    sys.stderr.write(f"error: {message}\n")


def ok(message: str) -> None:
    """Print a success line (style tags rendered, see the module docstring)."""
    sys.stdout.write(render(message) + "\n")


def say(line: str) -> None:
    """Print a line exactly as given (build output, log lines) and flush it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
