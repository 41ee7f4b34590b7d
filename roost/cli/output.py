"""Printing for the CLI: tables and JSON to stdout, errors as one line to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)


def print_json(data: Any) -> None:
    """Print data as indented JSON (for --json)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
                empty: str = "nothing to show") -> None:
    """Print rows as a table; ``columns`` are (key, heading) pairs."""
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for _, heading in columns:
        table.add_column(heading)
    for row in rows:
        table.add_row(*("" if row.get(k) is None else str(row.get(k)) for k, _ in columns))
    console.print(table)


def fail(message: str) -> None:
    """Print an error line to stderr."""
    sys.stderr.write(f"error: {message}\n")


def ok(message: str) -> None:
    """Print a success line."""
    console.print(message, highlight=False)
