"""The hostile-tenant tests run against real `roost up` processes, as tests/e2e does."""

from __future__ import annotations

from tests.e2e.conftest import _remove_home, server  # noqa: F401  (fixtures)
