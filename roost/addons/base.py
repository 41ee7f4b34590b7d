"""The add-on interface: provision, config vars, deprovision, info, health, backup/restore.

An add-on keeps what it needs to find its resource again (a role name, a password) in a
``state`` dict that Roost stores encrypted beside the attachment and hands back on every
call, so add-ons hold no state of their own between calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput
from roost.objectstore import ObjectStore
from roost.settings import Settings

State = dict[str, str]


@dataclass(frozen=True)
class AddonEnv:
    """What an add-on may use of the platform: settings, store and object store."""

    settings: Settings
    sessions: sessionmaker[Session]
    objects: ObjectStore


@dataclass(frozen=True)
class Health:
    """An add-on's own view of whether it works for an app."""

    ok: bool
    detail: str = ""

    def describe(self) -> str:
        """``ok`` or ``failing: <why>``."""
        return "ok" if self.ok else f"failing: {self.detail or 'unknown reason'}"


@dataclass(frozen=True)
class Provisioned:
    """The result of provisioning: state to keep and a line for the user."""

    state: State
    message: str = ""
    info: dict[str, str] = field(default_factory=dict)


class Addon(ABC):
    """One kind of add-on. Subclasses declare their kind, options and capabilities."""

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Options accepted by `roost addons add APP KIND --option K=V`, with their help text.
    options: ClassVar[dict[str, str]] = {}
    supports_backup: ClassVar[bool] = False

    def __init__(self, env: AddonEnv) -> None:
        self.env = env

    def check_options(self, options: dict[str, str]) -> dict[str, str]:
        """Refuse options this kind does not know, naming the ones it does."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise InvalidInput(f"unknown option {unknown[0]!r} for the {self.kind} add-on; "
                               f"known options: {known}")
        return dict(options)

    @abstractmethod
    def provision(self, app: str, options: dict[str, str]) -> Provisioned:
        """Create the app's resource; raise a RoostError (and leave nothing behind) on failure."""

    @abstractmethod
    def config_vars(self, app: str, state: State) -> dict[str, str]:
        """The config vars merged into every release of the app."""

    @abstractmethod
    def deprovision(self, app: str, state: State) -> str:
        """Remove the app's resource; return a line for the user (e.g. where a backup is)."""

    def info(self, app: str, state: State) -> dict[str, str]:
        """Facts shown by `roost addons APP` (no secrets)."""
        return {}

    def health(self, app: str, state: State) -> Health:
        """Whether the resource works right now."""
        return Health(ok=True)

    def monitor_url(self, app: str, state: State) -> str | None:
        """A target (http://, tcp://) for the app's automatic uptime monitor, if any."""
        return None

    def backup(self, app: str, state: State) -> str:
        """Take a backup; return its reference."""
        raise InvalidInput(f"the {self.kind} add-on has no backups")

    def restore(self, app: str, state: State, ref: str) -> str:
        """Restore the backup ``ref``; return a line for the user."""
        raise InvalidInput(f"the {self.kind} add-on has no backups")
