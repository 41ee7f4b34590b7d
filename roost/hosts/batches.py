"""Rolling applies: how many hosts per batch, and how many failures stop the rollout."""

from __future__ import annotations

import math
import re

from roost.errors import InvalidInput

AMOUNT = re.compile(r"^(\d{1,6})(%?)$")


def _amount(text: str, total: int, option: str, example: str) -> tuple[int, bool]:
    found = AMOUNT.match(text.strip())
    if not found or (found.group(2) and int(found.group(1)) > 100):
        raise InvalidInput(f"{option} {text!r} is not a number of hosts or a percentage: "
                           f"write e.g. {option} {example}")
    value = int(found.group(1))
    return value, bool(found.group(2))


def split(names: list[str], batch: str) -> list[list[str]]:
    """``names`` in batches of ``batch`` hosts (``"3"``) or of a share (``"25%"``)."""
    value, percent = _amount(batch, len(names), "--batch", "25%")
    if value == 0:
        raise InvalidInput("--batch 0 applies to no host: give at least 1 (or 1%)")
    size = max(1, math.ceil(len(names) * value / 100)) if percent else value
    return [names[i:i + size] for i in range(0, len(names), size)]


def failure_limit(max_failures: str, total: int) -> int:
    """How many failed hosts are tolerated before the rollout stops."""
    value, percent = _amount(max_failures, total, "--max-failures", "10%")
    return math.floor(total * value / 100) if percent else value
