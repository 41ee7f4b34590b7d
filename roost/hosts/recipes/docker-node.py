"""Roost's docker-node recipe (roles ``docker-node`` and ``docker-manager``): Debian's
docker.io, running with its daemons behind the apps for the CPU, and the host in the
apps' swarm.

When apps run on a swarm (``ROOST_RUNTIME=swarm``), Roost reads a manager's address and
join token from ``DOCKER_HOST`` and gives them as host data: ``roost_swarm_join`` =
``{"manager": "ADDR:2377", "token": "SWMTKN-…"}``. The token decides whether the host
joins as a worker (``docker-node``) or a manager (``docker-manager``). The token goes to
the command in its environment, so it is in no operation's name or output.
"""

import shlex

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, server, systemd

from roost.hosts.facts import SwarmState, SystemdRunning, UnitCpuWeight
from roost.hosts.recipebook import ENGINE_CPU_WEIGHT, ENGINE_UNITS

installing = "docker.io" not in (host.get_fact(DebPackages) or {})
if installing:
    apt.packages(name="Install Docker Engine (Debian's docker.io)", packages=["docker.io"],
                 update=True, cache_time=3600)

if host.get_fact(SystemdRunning):
    systemd.service(name="Run Docker", service="docker.service", running=True, enabled=True)
    # Apps and the router come first for the CPU; the engine takes what they leave. Set on
    # the running units (and kept across reboots): nothing restarts, no task stops. Facts
    # are read before anything runs, so on a first install the units are not known yet.
    for unit in ENGINE_UNITS:
        found = host.get_fact(UnitCpuWeight, unit=unit)
        if (installing or found["loaded"]) and found["weight"] != ENGINE_CPU_WEIGHT:
            server.shell(name=f"Give {unit} CPUWeight={ENGINE_CPU_WEIGHT} (apps first)",
                         commands=[f"systemctl set-property {unit} "
                                   f"CPUWeight={ENGINE_CPU_WEIGHT}"])

join = host.data.get("roost_swarm_join") or {}
if join.get("manager") and join.get("token"):
    state = (host.get_fact(SwarmState) or {}).get("state")
    if state != "active":
        server.shell(name=f"Join the swarm at {join['manager']}",
                     commands=[f'docker swarm join --token "$ROOST_SWARM_TOKEN" '
                               f"{shlex.quote(join['manager'])}"],
                     _env={"ROOST_SWARM_TOKEN": join["token"]})
