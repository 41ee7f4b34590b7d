"""Who hears about an app: its maintainers, and the platform's on-call contacts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core import validate
from roost.errors import InvalidInput
from roost.notify.recipients import Recipient
from roost.store.models import App, Maintainer


def for_app(session: Session, app_name: str) -> list[Recipient]:
    """The maintainers of an app as notification recipients."""
    rows = session.scalars(select(Maintainer).join(App).where(App.name == app_name)
                           .order_by(Maintainer.id))
    return [Recipient(key=f"maintainer:{m.id}", name=m.name, email=m.email, phone=m.phone,
                      notify_urls=list(m.notify_urls or [])) for m in rows]


def parse_oncall(entries: list[str]) -> list[Recipient]:
    """On-call contacts from settings: each an E.164 phone, an email or an Apprise URL."""
    people = []
    for entry in entries:
        entry = entry.strip()
        if entry.startswith("+"):
            people.append(Recipient(key=f"oncall:{entry}", name="on-call",
                                    phone=validate.phone(entry)))
        elif "://" in entry:
            people.append(Recipient(key=f"oncall:{entry}", name="on-call", notify_urls=[entry]))
        elif "@" in entry:
            people.append(Recipient(key=f"oncall:{entry}", name="on-call",
                                    email=validate.email(entry)))
        elif entry:
            raise InvalidInput(f"ROOST_ONCALL entry {entry!r} is not a phone (+E.164), "
                               "an email or an Apprise URL")
    return people


