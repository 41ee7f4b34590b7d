"""CVSS 3.x base scores computed from vector strings, and qualitative severity levels."""

from __future__ import annotations

import math

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_REQUIRED = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")

LEVELS = ("none", "low", "medium", "high", "critical")


def _roundup(value: float) -> float:
    # CVSS 3.1's Roundup avoids floating-point artefacts such as 4.000000001 -> 4.1.
    as_int = round(value * 100000)
    if as_int % 10000 == 0:
        return as_int / 100000.0
    return (math.floor(as_int / 10000) + 1) / 10.0


def base_score(vector: str) -> float | None:
    """The CVSS 3.x base score of ``vector`` (``CVSS:3.1/AV:N/...``); None if malformed."""
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:3"):
        return None
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep:
            return None
        metrics[key] = value
    if any(k not in metrics for k in _REQUIRED):
        return None
    try:
        changed = {"U": False, "C": True}[metrics["S"]]
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[metrics["PR"]]
        exploitability = 8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * pr * _UI[metrics["UI"]]
        c, i, a = _CIA[metrics["C"]], _CIA[metrics["I"]], _CIA[metrics["A"]]
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    if changed:
        return _roundup(min(1.08 * (impact + exploitability), 10.0))
    return _roundup(min(impact + exploitability, 10.0))


def level_for_score(score: float) -> str:
    """The CVSS qualitative rating of a score: none, low, medium, high or critical."""
    if score == 0:
        return "none"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


def normalise_level(text: str) -> str | None:
    """Map a database's own level (GHSA ``MODERATE``, ``High``...) to our level names."""
    t = text.strip().lower()
    if t == "moderate":
        return "medium"
    return t if t in LEVELS else None


def level_rank(level: str | None) -> int:
    """Order of a level for picking the worst (unknown ranks lowest)."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0
