"""Roost's docker-node recipe (roles ``docker-node`` and ``docker-manager``): Debian's
docker.io, running, and the host in the apps' swarm.

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

from roost.hosts.facts import SwarmState, SystemdRunning

if "docker.io" not in (host.get_fact(DebPackages) or {}):
    apt.packages(name="Install Docker Engine (Debian's docker.io)", packages=["docker.io"],
                 update=True, cache_time=3600)

if host.get_fact(SystemdRunning):
    systemd.service(name="Run Docker", service="docker.service", running=True, enabled=True)

join = host.data.get("roost_swarm_join") or {}
if join.get("manager") and join.get("token"):
    state = (host.get_fact(SwarmState) or {}).get("state")
    if state != "active":
        server.shell(name=f"Join the swarm at {join['manager']}",
                     commands=[f'docker swarm join --token "$ROOST_SWARM_TOKEN" '
                               f"{shlex.quote(join['manager'])}"],
                     _env={"ROOST_SWARM_TOKEN": join["token"]})
