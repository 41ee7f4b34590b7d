"""Validation of user input: app names, config keys, emails and phone numbers."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from roost.errors import InvalidInput

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def app_name(name: str) -> str:
    """Return ``name`` if it is a valid app name, else raise InvalidInput saying why."""
    if not APP_NAME.fullmatch(name) or name.endswith("-"):
        raise InvalidInput(
            f"invalid app name {name!r}: use 1-30 lowercase letters, digits and dashes, "
            "starting with a letter and not ending with a dash (e.g. 'my-app')"
        )
    return name


def config_key(key: str) -> str:
    """Return ``key`` if it is a valid config var name."""
    if not CONFIG_KEY.fullmatch(key) or len(key) > 255:
        raise InvalidInput(
            f"invalid config key {key!r}: use letters, digits and underscores, "
            "not starting with a digit (e.g. DATABASE_URL)"
        )
    return key


def email(value: str) -> str:
    """Return the normalised address if ``value`` is a valid email address."""
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email {value!r}: {exc}") from exc


def phone(value: str) -> str:
    """Return ``value`` if it is a valid E.164 phone number such as +15551234567."""
    hint = "give it in E.164 form: a plus sign, the country code and the number, e.g. +15551234567"
    if not E164.fullmatch(value):
        raise InvalidInput(f"invalid phone number {value!r}: {hint}")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"invalid phone number {value!r}: {hint}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput(f"invalid phone number {value!r}: not a possible number; {hint}")
    return value
