"""Where a VM app runs: its VM, its port there, and the address the router dials."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from roost.errors import RuntimeFailure
from roost.runtime.vm.ssh import VmHost


@dataclass(frozen=True)
class Placement:
    """Where an app runs: its VM and the port its web socket holds there."""

    host: VmHost
    port: int

    @property
    def check_port(self) -> int:
        """The loopback port on the VM where a candidate release is checked."""
        return self.port + 1


def address_of(placement: Placement) -> str:
    """The VM's IP address (the router dials an address, not a name)."""
    try:
        return socket.gethostbyname(placement.host.address)
    except OSError as exc:
        raise RuntimeFailure(f"cannot resolve {placement.host.address}: {exc}") from None


def listen_of(placement: Placement) -> str:
    """Where the app's web socket listens on its VM."""
    return f"{address_of(placement)}:{placement.port}"


def upstream_of(placement: Placement) -> str:
    """The router's upstream for the app: the VM's address and the app's port."""
    return f"{address_of(placement)}:{placement.port}"
