"""Encryption of secrets at rest (Fernet) and API token hashing."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from roost.errors import ConfigError, StoreError


def load_or_create_key(home: Path, configured: str = "") -> bytes:
    """The Fernet key: ``configured`` if given, else ``home/secret.key`` (created 0600)."""
    if configured:
        key = configured.encode()
    else:
        path = home / "secret.key"
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError as exc:
        raise ConfigError(
            "ROOST_SECRET_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc
    return key


class Cipher:
    """Encrypts and decrypts config values with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, value: str) -> bytes:
        """Encrypt a string value."""
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """Decrypt a value encrypted with :meth:`encrypt`."""
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise StoreError(
                "a stored secret cannot be decrypted: ROOST_SECRET_KEY (or secret.key) changed"
            ) from exc


def new_token() -> str:
    """A fresh random API token."""
    return "rst_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
