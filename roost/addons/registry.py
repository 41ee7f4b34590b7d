"""Add-on kinds by name, each a dotted path imported on first use (healthchecks' registry).

Built-in kinds are listed in :data:`BUILTIN`; ``ROOST_ADDON_KINDS`` adds more as
``kind=package.module:Class`` entries (a company's own add-ons, and the tests' one).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from roost.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from roost.addons.base import Addon, AddonEnv

BUILTIN: dict[str, str] = {
    "postgres": "roost.addons.postgres.addon:PostgresAddon",
    "email": "roost.addons.email.addon:EmailAddon",
}


def parse_kinds(entries: Iterable[str]) -> dict[str, str]:
    """``kind=module:Class`` entries as a dict; refuse malformed ones naming the entry."""
    kinds: dict[str, str] = {}
    for entry in entries:
        kind, sep, path = entry.partition("=")
        if not sep or not kind.strip() or ":" not in path:
            raise ConfigError(f"ROOST_ADDON_KINDS entry {entry!r} must look like "
                              "kind=package.module:Class")
        kinds[kind.strip()] = path.strip()
    return kinds


class AddonRegistry:
    """Maps kind names to add-on classes, importing each on first use."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = dict(kinds)
        self._loaded: dict[str, type[Addon]] = {}

    @classmethod
    def from_settings(cls, extra: Iterable[str]) -> AddonRegistry:
        """The built-in kinds plus those named in settings."""
        return cls({**BUILTIN, **parse_kinds(extra)})

    def names(self) -> list[str]:
        """Every kind this platform offers."""
        return sorted(self.kinds)

    def load(self, kind: str, env: AddonEnv) -> Addon:
        """An instance of ``kind``; an unknown kind is refused with the known ones."""
        cls = self._loaded.get(kind)
        if cls is None:
            path = self.kinds.get(kind)
            if path is None:
                known = ", ".join(self.names()) or "none installed"
                raise InvalidInput(f"no add-on kind {kind!r}; available: {known}")
            module_name, _, attr = path.partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise InvalidInput(f"the {kind} add-on cannot be loaded ({path}): {exc}; "
                                   "install what it needs or fix ROOST_ADDON_KINDS") from exc
            self._loaded[kind] = cls
        return cls(env)
