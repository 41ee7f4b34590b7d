"""Every model, imported here so that Base.metadata knows all tables."""

from roost.store.models import (  # noqa: F401
    addons,
    cluster,
    dns,
    forge,
    hosts,
    mail,
    notify,
    perf,
    pg_backups,
    sessions,
    uptime,
    vulns,
)
from roost.store.models.apps import ApiToken, App, AuditEntry, ConfigVar, Maintainer
from roost.store.models.releases import Build, DeployLock, Release

__all__ = [
    "ApiToken", "App", "AuditEntry", "Build", "ConfigVar", "DeployLock", "Maintainer", "Release",
]
