"""Apps, maintainers and config vars at the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from roost.core import apps, audit, config, maintainers
from roost.core.secrets import Cipher
from roost.errors import Conflict, InvalidInput, NotFound
from roost.store.models import ConfigVar
from roost.store.session import make_sessionmaker, transaction

CIPHER = Cipher(Fernet.generate_key())


@pytest.mark.parametrize("name", ["a", "web", "my-app-2", "a" * 30])
def test_valid_app_names(engine: Engine, name: str) -> None:
    with transaction(make_sessionmaker(engine)) as s:
        apps.create(s, name, "t")
    with transaction(make_sessionmaker(engine)) as s:
        assert [a.name for a in apps.list_all(s)] == [name]


@pytest.mark.parametrize("name", ["", "A", "1app", "-x", "x-", "a_b", "a" * 31, "ab c", "é"])
def test_invalid_app_names_refused(engine: Engine, name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid app name"), \
            transaction(make_sessionmaker(engine)) as s:
        apps.create(s, name, "t")
    with transaction(make_sessionmaker(engine)) as s:
        assert apps.list_all(s) == []


def test_duplicate_app_refused(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        apps.create(s, "web", "t")
    with pytest.raises(Conflict, match="exists already"), transaction(factory) as s:
        apps.create(s, "web", "t")


def test_maintainer_rules(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        apps.create(s, "web", "t")
        maintainers.add(s, "web", "Ada", "ada@example.com", "+15551234567", [], "t")
    for email, phone, msg in [
        (None, None, "needs an email or a phone"),
        ("not-an-email", None, "invalid email"),
        (None, "5551234567", "E.164"),
        (None, "+1555", "invalid phone"),
        ("ada@example.com", None, "already maintains"),
    ]:
        with pytest.raises((InvalidInput, Conflict), match=msg), transaction(factory) as s:
            maintainers.add(s, "web", "Bob", email, phone, [], "t")
    with transaction(factory) as s:
        assert [m.name for m in maintainers.list_for(s, "web")] == ["Ada"]
        maintainers.remove(s, "web", "+15551234567", "t")
    with pytest.raises(NotFound), transaction(factory) as s:
        maintainers.remove(s, "web", "+15551234567", "t")


VALUES = ["plain", 'with "quotes"', "a=b=c", "  spaces  ", "line1\nline2\n", "ünïcødé ☃", ""]


def test_config_values_round_trip_and_are_encrypted(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        apps.create(s, "web", "t")
        config.set_many(s, CIPHER, "web", {f"K{i}": v for i, v in enumerate(VALUES)}, "t")
    with transaction(factory) as s:
        assert config.as_dict(s, CIPHER, "web") == {f"K{i}": v for i, v in enumerate(VALUES)}
        stored = [v.value_encrypted for v in s.scalars(select(ConfigVar))]
        assert all(b"plain" not in raw and b"quotes" not in raw for raw in stored)


def test_config_refusals_change_nothing(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        apps.create(s, "web", "t")
        config.set_many(s, CIPHER, "web", {"A": "1"}, "t")
    with pytest.raises(InvalidInput, match="invalid config key"), transaction(factory) as s:
        config.set_many(s, CIPHER, "web", {"B": "2", "1BAD": "x"}, "t")
    with pytest.raises(NotFound, match="nothing was unset"), transaction(factory) as s:
        config.unset_many(s, "web", ["A", "MISSING"], "t")
    with transaction(factory) as s:
        assert config.as_dict(s, CIPHER, "web") == {"A": "1"}


def test_changes_are_audited(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        apps.create(s, "web", "ada")
        config.set_many(s, CIPHER, "web", {"A": "1"}, "ada")
    with transaction(factory) as s:
        actions = [(e.actor, e.action) for e in audit.entries(s, "web")]
    assert actions == [("ada", "config.set"), ("ada", "apps.create")]
