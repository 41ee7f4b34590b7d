"""Every model, imported here so that Base.metadata knows all tables."""

from roost.store.models.apps import ApiToken, App, AuditEntry, ConfigVar, Maintainer

__all__ = ["ApiToken", "App", "AuditEntry", "ConfigVar", "Maintainer"]
