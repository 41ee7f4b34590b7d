"""Resource limits of app processes: memory, CPU and process count per process type.

Defaults come from settings (``ROOST_DEFAULT_MEMORY``, ``ROOST_DEFAULT_CPU``,
``ROOST_DEFAULT_PIDS``); an app's own limits per process type live in its settings JSON
under ``limits`` (``{"web": {"memory": "1G", "cpu": 2}}``) and are changed with
`roost limits set APP TYPE memory=… cpu=… pids=…`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roost.errors import InvalidInput
from roost.sizes import format_memory, parse_memory

KEYS = ("memory", "cpu", "pids")


@dataclass(frozen=True)
class ResourceLimits:
    """The limits one process runs under."""

    memory: int = 512 * 1024 ** 2
    cpu: float = 1.0
    pids: int = 512

    def to_json(self) -> dict[str, Any]:
        """``{"memory": "512M", "cpu": 1.0, "pids": 512}``."""
        return {"memory": format_memory(self.memory), "cpu": self.cpu, "pids": self.pids}


def parse_changes(pairs: dict[str, Any]) -> dict[str, Any]:
    """Check ``memory``/``cpu``/``pids`` values; return them normalised for storage."""
    out: dict[str, Any] = {}
    for key, value in pairs.items():
        if key not in KEYS:
            raise InvalidInput(f"unknown limit {key!r}: use memory, cpu or pids")
        if key == "memory":
            out[key] = format_memory(parse_memory(str(value)))
        elif key == "cpu":
            try:
                cpu = float(value)
            except (TypeError, ValueError):
                cpu = -1.0
            if not 0.01 <= cpu <= 1024:
                raise InvalidInput(f"cpu={value!r}: give a number of CPUs from 0.01 to 1024")
            out[key] = cpu
        else:
            try:
                pids = int(value)
            except (TypeError, ValueError):
                pids = -1
            if not 8 <= pids <= 1_000_000:
                raise InvalidInput(f"pids={value!r}: give a whole number from 8 to 1000000")
            out[key] = pids
    return out


def for_type(settings: dict[str, Any] | None, ptype: str, default: ResourceLimits
             ) -> ResourceLimits:
    """The limits of ``ptype`` from an app's settings JSON, falling back to ``default``."""
    stored = ((settings or {}).get("limits") or {}).get(ptype) or {}
    try:
        checked = parse_changes(dict(stored))
    except InvalidInput:
        checked = {}
    return ResourceLimits(
        memory=parse_memory(checked["memory"]) if "memory" in checked else default.memory,
        cpu=float(checked.get("cpu", default.cpu)), pids=int(checked.get("pids", default.pids)))


def for_app(settings: dict[str, Any] | None, types: list[str], default: ResourceLimits
            ) -> dict[str, ResourceLimits]:
    """Every process type's limits."""
    return {ptype: for_type(settings, ptype, default) for ptype in types}


def default_limits(settings: Any) -> ResourceLimits:
    """The defaults from settings (``ROOST_DEFAULT_MEMORY``, ``_CPU``, ``_PIDS``)."""
    return ResourceLimits(memory=parse_memory(settings.default_memory),
                          cpu=float(settings.default_cpu), pids=int(settings.default_pids))
