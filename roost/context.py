"""The running platform's shared parts, handed to the API, the daemon and the deployer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.settings import Settings


@dataclass
class Context:
    """The platform's shared parts: settings, store, cipher and running services."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    services: dict[str, Any] = field(default_factory=dict)
    # Deploy hooks by stage ("before_activate", "after_activate"): each takes a DeployStage.
    hooks: dict[str, list[Any]] = field(default_factory=dict)

    def hook(self, stage: str, func: Any) -> None:
        """Register ``func`` to run at a deploy stage."""
        self.hooks.setdefault(stage, []).append(func)
