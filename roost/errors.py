"""Roost's error tree.

Every error Roost raises on purpose derives from :class:`RoostError`, which carries a
stable machine ``code`` (used in API error bodies) and a one-line human ``message``
that says what failed and, where it can, what to do about it::

    RoostError                      generic failure (500 when it escapes the API)
    ├── InvalidInput                the caller's input is malformed (400/422)
    │   └── ParseError              a file could not be parsed; names file and line
    ├── NotFound                    the named thing does not exist (404)
    ├── Conflict                    it exists already / is busy (409)
    ├── Unauthorized                missing or wrong credentials (401)
    ├── ConfigError                 a bad setting; names the key (start-up refuses)
    ├── StoreError                  the database could not be used
    ├── ObjectStoreError            the object store (file:// or s3://) failed
    ├── BuildError                  a build step failed; names buildpack and step
    ├── RuntimeFailure              a process or router operation failed
    └── DeliveryError               a notification could not be delivered;
                                    ``permanent`` says whether retrying can help

Third-party exceptions (SQLAlchemy, boto, httpx) are translated into these where they
enter Roost's code, so callers above never see them.
"""

from __future__ import annotations


class RoostError(Exception):
    """Base of every error Roost raises deliberately."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(RoostError):
    """The caller's input is malformed; the message says how to fix it."""

    code = "invalid_input"
    status = 422


class ParseError(InvalidInput):
    """A file could not be parsed; the message names the file and the line."""

    code = "parse_error"

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"cannot parse {where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class NotFound(RoostError):
    """The named object does not exist."""

    code = "not_found"
    status = 404


class Conflict(RoostError):
    """The object exists already, or is busy with another operation."""

    code = "conflict"
    status = 409


class Unauthorized(RoostError):
    """Credentials are missing or wrong."""

    code = "unauthorized"
    status = 401


class ConfigError(RoostError):
    """A setting is unknown or has a bad value; the message names the key."""

    code = "config_error"


class StoreError(RoostError):
    """The database could not be read or written."""

    code = "store_error"
    status = 503


class ObjectStoreError(RoostError):
    """The object store failed; the message carries the store's own reason."""

    code = "object_store_error"
    status = 502


class BuildError(RoostError):
    """A build failed; the message names the buildpack and step."""

    code = "build_failed"
    status = 422

    def __init__(self, message: str, *, step: str = "", output_tail: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.output_tail = output_tail


class RuntimeFailure(RoostError):
    """A process, health check or router operation failed."""

    code = "runtime_failed"
    status = 409


class DeliveryError(RoostError):
    """A notification could not be delivered.

    ``permanent`` is True when retrying cannot help (bad number, rejected credentials)
    and False for temporary faults (timeouts, 5xx, rate limits) that are retried.
    """

    code = "delivery_failed"

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent
