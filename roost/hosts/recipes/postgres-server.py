"""Roost's postgres-server recipe (role ``postgres-server``): Debian's PostgreSQL and
pgBackRest for the PostgreSQL add-on's servers, running where systemd runs."""

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, systemd

from roost.hosts.facts import SystemdRunning

PACKAGES = ["postgresql", "postgresql-contrib", "pgbackrest"]

installed = host.get_fact(DebPackages) or {}
missing = [p for p in PACKAGES if p not in installed]
if missing:
    apt.packages(name="Install PostgreSQL and pgBackRest", packages=missing, update=True,
                 cache_time=3600)

if host.get_fact(SystemdRunning):
    systemd.service(name="Run PostgreSQL", service="postgresql.service", running=True,
                    enabled=True)
