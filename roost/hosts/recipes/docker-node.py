"""Roost's docker-node recipe (role ``docker-node``): Debian's docker.io, running, and
the host in the swarm when the platform gives a join address and token.

Host data: ``roost_swarm_join`` = ``{"manager": "ADDR:2377", "token": "SWMTKN-…"}``; the
token decides whether the host joins as a worker or a manager.
"""

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
        server.shell(name="Join the swarm",
                     commands=[f"docker swarm join --token {join['token']} {join['manager']}"])
