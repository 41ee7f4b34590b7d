"""Forge webhooks (GitHub, GitLab, Gitea) that deploy an app on push."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class ForgeHook(Base):
    """One forge's push webhook of an app; the secret is Fernet-encrypted at rest."""

    __tablename__ = "forge_hooks"
    __table_args__ = (UniqueConstraint("app_id", "provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(10))
    branch: Mapped[str] = mapped_column(String(255), default="main")
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str] = mapped_column(String(500), default="")
