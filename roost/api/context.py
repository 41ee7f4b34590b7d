"""What the API needs from the running platform, handed to routers through app.state."""

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
