"""Roost's base recipe, applied to every host before the company's recipes.

Time sync (systemd-timesyncd), unattended security upgrades, a firewall (nftables) that
lets in only SSH and the router's ports (and the ports of the host's Roost roles), and a
non-root ``deploy`` user. Services are enabled and started where systemd runs.
"""

from io import StringIO

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, files, server, systemd

from roost.hosts.facts import Account, SystemdRunning

PACKAGES = ["systemd-timesyncd", "unattended-upgrades", "nftables"]
DEPLOY_USER = host.data.get("roost_deploy_user", "deploy")
TCP = sorted({int(host.data.get("roost_ssh_port", 22)),
              *(int(p) for p in host.data.get("roost_tcp_ports", [80, 443]))})
UDP = sorted({int(p) for p in host.data.get("roost_udp_ports", [])})

AUTO_UPGRADES = """\
// Managed by Roost (base recipe): refresh package lists and install security updates daily.
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
"""

UNATTENDED = """\
// Managed by Roost (base recipe): only the security archive, never a reboot on its own.
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Automatic-Reboot "false";
"""


def ports(numbers: list[int]) -> str:
    """An nftables set of ports."""
    return "{ " + ", ".join(str(n) for n in numbers) + " }"


FIREWALL = f"""\
#!/usr/sbin/nft -f
# Managed by Roost (base recipe): only SSH and the router's ports are open.
# Only Roost's own table is replaced, so Docker's rules stay as they are.
table inet roost
delete table inet roost
table inet roost {{
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif lo accept
        meta l4proto {{ icmp, ipv6-icmp }} accept
        tcp dport {ports(TCP)} accept
{f"        udp dport {ports(UDP)} accept" if UDP else ""}
    }}
}}
"""

installed = host.get_fact(DebPackages) or {}
missing = [p for p in PACKAGES if p not in installed]
if missing:  # package lists are refreshed only when something must be installed
    apt.packages(name="Install time sync, unattended upgrades and nftables",
                 packages=missing, update=True, cache_time=3600)

files.put(name="Install security updates every day",
          src=StringIO(AUTO_UPGRADES), dest="/etc/apt/apt.conf.d/20auto-upgrades",
          user="root", group="root", mode="644")
files.put(name="Take upgrades from the security archive only",
          src=StringIO(UNATTENDED), dest="/etc/apt/apt.conf.d/52roost-unattended-upgrades",
          user="root", group="root", mode="644")

firewall = files.put(name="Firewall: SSH and the router's ports only",
                     src=StringIO(FIREWALL), dest="/etc/nftables.conf",
                     user="root", group="root", mode="755")
server.shell(name="Load the firewall rules", commands=["nft -f /etc/nftables.conf"],
             _if=firewall.did_change)

account = host.get_fact(Account, user=DEPLOY_USER) or {}
if account.get("home") != f"/home/{DEPLOY_USER}" or account.get("shell") != "/bin/bash":
    server.user(name=f"Non-root user {DEPLOY_USER}", user=DEPLOY_USER, shell="/bin/bash",
                home=f"/home/{DEPLOY_USER}", create_home=True)
files.directory(name=f"SSH folder of {DEPLOY_USER}", path=f"/home/{DEPLOY_USER}/.ssh",
                user=DEPLOY_USER, group=DEPLOY_USER, mode="700")

if host.get_fact(SystemdRunning):
    for unit in ("systemd-timesyncd", "nftables", "unattended-upgrades"):
        systemd.service(name=f"Run {unit}", service=f"{unit}.service", running=True,
                        enabled=True)
