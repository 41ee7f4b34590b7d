"""Roost's images on every node of the swarm, without a registry.

A swarm manager cannot copy an image to another node, and a task cannot start on a node
that lacks its image, so Roost reaches each node's own Docker Engine through
``ROOST_SWARM_NODE_DOCKER``, a template such as ``ssh://root@{address}`` (``{address}``:
the node's swarm address, ``{hostname}``: its host name), imports the stack and router
images there, then labels the node ``roost.images=<version>``. App, build and router tasks
are constrained to labelled nodes, so a node that joins later takes tasks only once it has
the images; the runtime checks for new nodes every few seconds.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from roost.errors import RuntimeFailure
from roost.runtime.swarm import images

log = logging.getLogger("roost.swarm.nodes")
LABEL = "roost.images"


class NodeImages:
    """Loads the images onto nodes that lack them (``template`` empty: does nothing)."""

    def __init__(self, template: str, stack_setting: str) -> None:
        self.template = template
        self.stack_setting = stack_setting
        names = f"{stack_setting or images.STACK_IMAGE} {images.router_image_name()}"
        self.version = hashlib.sha256(names.encode()).hexdigest()[:12]

    def constraints(self) -> list[str]:
        """Where tasks may go: nodes holding this version's images (any node without a
        template: the operator loads the images)."""
        return [f"node.labels.{LABEL}=={self.version}"] if self.template else []

    def engine_url(self, node: Any) -> str:
        """The node's own Docker Engine, from the template."""
        attrs = node.attrs
        return self.template.format(address=(attrs.get("Status") or {}).get("Addr", ""),
                                    hostname=(attrs.get("Description") or {}).get("Hostname",
                                                                                  ""))

    def label_self(self, manager: Any) -> None:
        """Label the manager's own node, whose engine already has the images."""
        if self.template:
            self._label(manager.nodes.get(manager.info()["Swarm"]["NodeID"]))

    def sync(self, manager: Any) -> list[str]:
        """Load and label every ready node that lacks this version; the host names done."""
        if not self.template:
            return []
        done = []
        for node in manager.nodes.list():
            attrs = node.attrs
            labels = dict((attrs.get("Spec") or {}).get("Labels") or {})
            if (attrs.get("Status") or {}).get("State") != "ready" \
                    or labels.get(LABEL) == self.version:
                continue
            self.load(node)
            self._label(node)
            done.append((node.attrs.get("Description") or {}).get("Hostname", node.id))
            log.info("loaded Roost's images onto swarm node %s", done[-1])
        return done

    def _label(self, node: Any) -> None:
        node.reload()
        spec = dict(node.attrs["Spec"])
        spec["Labels"] = {**(spec.get("Labels") or {}), LABEL: self.version}
        node.update(spec)

    def load(self, node: Any) -> None:
        """Import the stack and router images through the node's own engine."""
        import docker

        url = self.engine_url(node)
        try:
            client = docker.DockerClient(base_url=url, timeout=300)
        except docker.errors.DockerException as exc:
            raise RuntimeFailure(f"cannot reach the Docker Engine of swarm node {url} "
                                 f"(ROOST_SWARM_NODE_DOCKER): {exc}") from exc
        try:
            images.ensure_stack(client, self.stack_setting)
            images.ensure_router(client)
        finally:
            client.close()
