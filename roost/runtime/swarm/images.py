"""The images a swarm runs, made without a registry.

- the **stack image** (``roost-stack:bookworm-3``): Debian bookworm with python3 and its venv
  module (the built-in Python buildpack makes a venv) and Node.js with npm (the built-in
  Node.js buildpack runs ``npm ci``; apps run ``node``), made from Debian packages by
  ``mmdebstrap`` into a tarball (``scripts/ensure-docker.sh`` does it once) and
  ``docker import``-ed onto each node; or any image given with ``ROOST_STACK_IMAGE``
  that has python3 and a shell (and node and npm for Node.js apps) and is present on every
  node.
- the **router image** (``roost-router:CADDY``): the static Caddy binary Roost already runs,
  alone in a tarball, imported the same way.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

from roost.errors import RuntimeFailure
from roost.runtime.caddyproc import caddy_binary

STACK_IMAGE = "roost-stack:bookworm-3"  # -2: with python3-venv; -3: with nodejs and npm
STACK_TARBALL = Path(os.environ.get("ROOST_STACK_TARBALL",
                                    "/var/cache/roost-stack/stack-bookworm-3.tar"))
STACK_PACKAGES = "python3,python3-venv,nodejs,npm,ca-certificates"  # as scripts/ensure-docker.sh
ROUTER_REPO = "roost-router"
MAKE_STACK = (f"mmdebstrap --variant=minbase --include={STACK_PACKAGES} bookworm "
              f"{STACK_TARBALL}")


def has_image(client: Any, name: str) -> bool:
    """Whether the engine behind ``client`` has image ``name``."""
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_stack(client: Any, image: str = "") -> str:
    """The stack image's name, imported from the tarball onto this engine when missing."""
    if image:
        if not has_image(client, image):
            raise RuntimeFailure(f"ROOST_STACK_IMAGE {image} is not on the swarm manager; "
                                 "load it on every node (docker load) first")
        return image
    if not has_image(client, STACK_IMAGE):
        if not STACK_TARBALL.is_file():
            raise RuntimeFailure(f"no stack image: run `{MAKE_STACK}` (scripts/ensure-docker.sh)"
                                 " or set ROOST_STACK_IMAGE")
        repo, tag = STACK_IMAGE.split(":")
        client.api.import_image_from_file(str(STACK_TARBALL), repository=repo, tag=tag)
    return STACK_IMAGE


def router_image_name() -> str:
    """``roost-router:<size of the Caddy binary>``: a new Caddy is a new image."""
    return f"{ROUTER_REPO}:{Path(caddy_binary()).stat().st_size}"


def ensure_router(client: Any) -> str:
    """The router image's name, built from the local Caddy binary when missing."""
    name = router_image_name()
    if has_image(client, name):
        return name
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("tmp", 0o1777), ("etc", 0o755), ("usr", 0o755),
                                ("usr/bin", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(caddy_binary(), arcname="usr/bin/caddy", recursive=False)
    buffer.seek(0)
    repo, tag = name.split(":")
    client.api.import_image(src=buffer.getvalue(), repository=repo, tag=tag)
    return name


def load_everywhere(clients: list[Any], image: str = "") -> tuple[str, str]:
    """Put the stack and router images on every node's engine (tests, `roost` setup)."""
    names = ("", "")
    for client in clients:
        names = (ensure_stack(client, image), ensure_router(client))
    return names
