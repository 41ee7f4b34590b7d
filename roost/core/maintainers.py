"""Maintainers: the people told about an app's outages, slowdowns and vulnerabilities."""

from __future__ import annotations

from sqlalchemy.orm import Session

from roost.core import apps, audit, validate
from roost.errors import Conflict, InvalidInput, NotFound
from roost.store.models import Maintainer


def list_for(session: Session, app_name: str) -> list[Maintainer]:
    """The maintainers of an app."""
    return list(apps.get(session, app_name).maintainers)


def _check_notify_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not rest:
        raise InvalidInput(
            f"invalid notification URL {url!r}: give an Apprise URL such as "
            "slack://TOKEN_A/TOKEN_B/TOKEN_C or json://host/path"
        )
    return url


def add(
    session: Session, app_name: str, name: str, email: str | None, phone: str | None,
    notify_urls: list[str] | None, actor: str,
) -> Maintainer:
    """Add a maintainer with at least an email or a phone number."""
    app = apps.get(session, app_name)
    name = name.strip()
    if not name:
        raise InvalidInput("a maintainer needs a name: --name 'Ada Lovelace'")
    if not email and not phone:
        raise InvalidInput("a maintainer needs an email or a phone: add --email or --phone")
    email = validate.email(email) if email else None
    phone = validate.phone(phone) if phone else None
    urls = [_check_notify_url(u) for u in notify_urls or []]
    for other in app.maintainers:
        if (email and other.email == email) or (phone and other.phone == phone):
            raise Conflict(
                f"{other.name} already maintains {app_name} with that "
                f"{'email' if email and other.email == email else 'phone'}"
            )
    maintainer = Maintainer(name=name, email=email, phone=phone, notify_urls=urls)
    app.maintainers.append(maintainer)
    session.flush()
    audit.record(session, actor, "maintainers.add", f"added maintainer {name}", app=app_name)
    return maintainer


def remove(session: Session, app_name: str, email_or_phone: str, actor: str) -> Maintainer:
    """Remove the maintainer with that email or phone."""
    app = apps.get(session, app_name)
    wanted = email_or_phone.strip()
    for m in app.maintainers:
        if wanted in {m.phone, m.email} or (m.email and m.email.lower() == wanted.lower()):
            app.maintainers.remove(m)
            audit.record(session, actor, "maintainers.remove", f"removed maintainer {m.name}",
                         app=app_name)
            return m
    raise NotFound(
        f"no maintainer of {app_name} has email or phone {wanted!r}; "
        f"`roost maintainers {app_name}` lists them"
    )
