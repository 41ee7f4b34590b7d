"""The router on a swarm: Caddy as a global service, reaching app tasks directly.

Each web service of an app carries the network alias ``roost-web-APP`` on the overlay
network with ``endpoint_mode=dnsrr``: Docker's DNS answers that name with the addresses of
the app's *healthy* tasks (swarm adds a task to DNS only once its health check passes, and
takes it out before stopping it). Caddy resolves the alias every second (``dynamic a``
upstreams), so its configuration never changes with deploys, scaling or task deaths, and
traffic never crosses the routing mesh's virtual IP. The configuration depends only on the
base domain and port.

Custom domains work the same way: an app's web tasks also carry the alias
``HOST.roost-domain`` for each of its domains, and a request for any other host than
``*.<base domain>`` goes to the tasks of ``<its Host>.roost-domain``. Adding a domain thus
starts a new generation of the app's web tasks (beside the old ones, as a restart does);
the router's configuration still never changes. Only names Roost gave its tasks end in
``.roost-domain``, and the router resolves nothing outside the swarm, so a Host header
cannot lead it anywhere else.

With HTTPS (``ROOST_ROUTER_TLS_LISTEN``) the routers also pull their configuration from the
control plane every few seconds, to get the custom domains' certificates issued there
(certs.py): a new certificate changes what they pull, not their service, so no router
restarts for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from roost.runtime.swarm import networks as swarm_networks

log = logging.getLogger("roost.swarm")

ALIAS_PREFIX = "roost-web-"
DOMAIN_SUFFIX = ".roost-domain"
APP_PORT = 5000
ROUTER_SERVICE = "roost-router"
PULL_LABEL = "roost.pull"  # the URL the routers pull their configuration from
PULL_EVERY = "5s"  # how often a router with HTTPS fetches its configuration (certificates)


def alias(app: str) -> str:
    """The DNS name of an app's healthy web tasks."""
    return f"{ALIAS_PREFIX}{app}"


def domain_alias(host: str) -> str:
    """The DNS name of the healthy web tasks of the app that ``host`` (a custom domain) is
    routed to."""
    return f"{host.lower()}{DOMAIN_SUFFIX}"


def _proxy(name: str) -> dict[str, Any]:
    """A reverse proxy to the tasks that DNS gives for ``name`` (a rooted name: one query,
    never the search list's forwarded ones), looked up every second.

    A node that leaves keeps its tasks in the swarm's DNS for some seconds, and a try of one
    of them waits for the dial timeout before the next task is tried: a task on the overlay
    answers a connection in milliseconds, so half a second bounds what such a try adds."""
    upstreams = {"source": "a", "name": name, "port": str(APP_PORT), "refresh": "1s",
                 "versions": {"ipv4": True}}
    return {
        "handler": "reverse_proxy",
        "dynamic_upstreams": upstreams,
        "load_balancing": {"selection_policy": {"policy": "round_robin"},
                           "try_duration": "5s", "try_interval": "25ms"},
        "health_checks": {"passive": {"fail_duration": "5s"}},
        "transport": {"protocol": "http", "dial_timeout": "500ms"},
    }


def caddy_config(base_domain: str, port: int, tls_port: int = 0,
                 pull: dict[str, Any] | None = None,
                 certificates: list[tuple[str, str]] | None = None,
                 challenge: str = "") -> dict[str, Any]:
    """Caddy's whole configuration: ``APP.<base domain>`` goes to ``roost-web-APP``'s tasks,
    any other host to the tasks of ``HOST.roost-domain`` (an app's custom domain).

    With ``tls_port``, the same routes over HTTPS with ``certificates`` (PEM chain and key
    per custom domain, issued on the control plane: certs.py); ``pull`` is the loader that
    fetches this configuration again every few seconds (the routers keep what they have
    when it fails), and ``challenge`` the HOST:PORT that answers ACME HTTP challenges."""
    label = len(base_domain.split("."))  # labels count from the right: APP is this one
    by_app = {"match": [{"host": [f"*.{base_domain}"]}], "terminal": True,
              "handle": [_proxy(f"{ALIAS_PREFIX}{{http.request.host.labels.{label}}}.")]}
    by_domain = {"handle": [_proxy(f"{{http.request.host}}{DOMAIN_SUFFIX}.")]}
    plain = [by_app, by_domain]
    if challenge:
        plain.insert(1, {"match": [{"path": ["/.well-known/acme-challenge/*"]}],
                         "terminal": True,
                         "handle": [{"handler": "reverse_proxy",
                                     "upstreams": [{"dial": challenge}]}]})
    servers: dict[str, Any] = {"router": {"listen": [f":{port}"],
                                          "automatic_https": {"disable": True},
                                          "routes": plain}}
    config: dict[str, Any] = {"admin": {"disabled": True},
                              "storage": {"module": "file_system", "root": "/tmp/caddy"},
                              "apps": {"http": {"servers": servers}}}
    if tls_port:
        servers["router-tls"] = {"listen": [f":{tls_port}"], "tls_connection_policies": [{}],
                                 "automatic_https": {"disable": True},
                                 "routes": [by_app, by_domain]}
        config["apps"]["tls"] = {"certificates": {"load_pem": [
            {"certificate": chain, "key": key} for chain, key in certificates or []]}}
    if pull is not None:
        config["admin"]["config"] = {"load": pull, "load_delay": PULL_EVERY}
    return config


def pull_from(url: str, token: str) -> dict[str, Any]:
    """Caddy's loader of its configuration from ``url`` (the control plane's slug server),
    authorised by ``token``."""
    return {"module": "http", "method": "GET", "url": url, "timeout": "5s",
            "header": {"Authorization": [f"Bearer {token}"]}}


def config_name(config: dict[str, Any]) -> str:
    """A docker config's name for this Caddy configuration (configs are immutable)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"roost-router-{digest}"


def _targets(service: Any) -> set[str]:
    return {n.get("Target", "") for n in
            service.attrs["Spec"]["TaskTemplate"].get("Networks") or []}


def attach(client: Any, networks: list[str], timeout: float = 120.0) -> None:
    """Join the router to ``networks`` it is not on yet: a rolling update of its service,
    one node at a time; returns once the update has gone through (or ``timeout``)."""
    found = client.services.list(filters={"name": ROUTER_SERVICE})
    if not found:
        return
    service = found[0]
    wanted = swarm_networks.ids(client, networks)
    missing = [i for i in wanted.values() if i not in _targets(service)]
    if not missing:
        return
    before = len(_running(service))
    template = dict(service.attrs["Spec"]["TaskTemplate"])
    template["Networks"] = [*(template.get("Networks") or []),
                            *({"Target": i} for i in missing)]
    client.api.update_service(service.id, service.version, task_template=template,
                              fetch_current_spec=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = _running(service)
        if len(running) >= before and all(
                set(missing) <= {n.get("Target") for n in t["Spec"].get("Networks") or []}
                for t in running):
            return
        time.sleep(0.25)
    log.warning("swarm: the router had not joined %s on every node after %.0f s", networks,
                timeout)


def wait_running(client: Any, timeout: float = 60.0) -> bool:
    """Wait until the router runs on every node it should (a node just given Roost's
    images, or just restarted, has it still starting); whether it does."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.services.list(filters={"name": ROUTER_SERVICE})
        if not found:
            return False
        wanted = found[0].tasks(filters={"desired-state": "running"})
        if wanted and all(t["Status"]["State"] == "running" for t in wanted):
            return True
        if time.monotonic() >= deadline:
            log.warning("swarm: the router is not running on every node after %.0f s",
                        timeout)
            return False
        time.sleep(0.25)


def _running(service: Any) -> list[dict[str, Any]]:
    """The router's tasks that should run and do."""
    return [t for t in service.tasks(filters={"desired-state": "running"})
            if t["Status"]["State"] == "running"]


def ensure(client: Any, image: str, networks: list[str], base_domain: str, port: int,
           constraints: tuple[str, ...] = (), tls_port: int = 0,
           pull: dict[str, Any] | None = None,
           live: Callable[[], list[str]] = list, challenge: str = "") -> str:
    """Run the router as a global service publishing ``port`` (and ``tls_port``) on every
    node (host mode) that meets ``constraints`` (those holding Roost's images), on
    ``networks``, its configuration fetched again through ``pull`` when given; the URL the
    running routers pull from ("" when they do not).

    The service is replaced when what it serves changes, and when the control-plane host
    it pulls from is no longer among the ``live`` ones (addresses); not merely because
    another host started (each one would otherwise restart every router). A router boots
    with ``challenge`` (this host's ACME challenge address) in its configuration, so a
    challenge in its first seconds, before its first pull, reaches the issuer too."""
    import docker.errors
    from docker.types import (
        ContainerSpec,
        DNSConfig,
        EndpointSpec,
        Placement,
        RestartPolicy,
        SecretReference,
        ServiceMode,
        TaskTemplate,
    )

    served = caddy_config(base_domain, port, tls_port)
    marker = " ".join([config_name(served), *constraints] + (["pull"] if pull else []))
    url = pull["url"] if pull else ""
    existing = client.services.list(filters={"name": ROUTER_SERVICE})
    labels = existing[0].attrs["Spec"].get("Labels", {}) if existing else {}
    pulls_from = labels.get(PULL_LABEL, "")
    if existing and labels.get("roost.config") == marker and (
            pulls_from == url or urlsplit(pulls_from).netloc in live()):
        attach(client, networks)
        return pulls_from
    boot = caddy_config(base_domain, port, tls_port, pull, challenge=challenge)
    name = config_name(boot)  # a secret: the pull's token opens the certificates' keys
    try:
        found = client.secrets.get(name)
    except docker.errors.NotFound:
        found = client.secrets.create(name=name, data=json.dumps(boot).encode(),
                                      labels={"roost": "router"})
    for old in existing:
        old.remove()
    spec = ContainerSpec(
        image, command=["/usr/bin/caddy", "run", "--config", "/run/secrets/caddy.json"],
        env=["XDG_DATA_HOME=/tmp", "XDG_CONFIG_HOME=/tmp", "HOME=/tmp"],
        user="65534:65534", cap_drop=["ALL"],
        sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
        # Names it looks up are answered by Docker's DNS or not at all: nothing outside the
        # swarm is resolved (no upstream server), so a Host header cannot point it elsewhere.
        # Caddy looks the app's tasks up on the request path once a second: a lost answer
        # while dockerd is busy creating and removing tasks must cost a second, not the
        # resolver's default 5 s per attempt.
        dns_config=DNSConfig(nameservers=["127.0.0.1"], search=["invalid"],
                             options=["ndots:0", "timeout:1", "attempts:3"]),
        secrets=[SecretReference(found.id, name, filename="caddy.json", uid="65534",
                                 gid="65534", mode=0o400)])
    template = TaskTemplate(spec, restart_policy=RestartPolicy(condition="any", delay=10 ** 9),
                            networks=list(networks),
                            placement=Placement(constraints=list(constraints)))
    ports = {port: (port, "tcp", "host")}
    if tls_port:
        ports[tls_port] = (tls_port, "tcp", "host")
    client.api.create_service(template, name=ROUTER_SERVICE, mode=ServiceMode("global"),
                              endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports),
                              labels={"roost": "router", "roost.config": marker,
                                      PULL_LABEL: url})
    return url
