"""Which record points a custom domain at the router: the rules, no I/O.

A subdomain gets a CNAME to ``ROOST_PUBLIC_HOST`` when one is set, else A/AAAA records to
``ROOST_PUBLIC_IP``; the apex (where a CNAME may not be) gets A/AAAA records, or an ALIAS to
the public host where the provider has ALIAS records.
"""

from __future__ import annotations

import ipaddress
import re

from roost.errors import InvalidInput

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def hostname(value: str) -> str:
    """A host name in lower case without the final dot."""
    host = value.strip().lower().rstrip(".")
    if not HOSTNAME.fullmatch(host):
        raise InvalidInput(f"invalid hostname {value!r}: give a name like www.example.com")
    return host


def records_for(name: str, public_ips: list[str], public_host: str, has_alias: bool
                ) -> list[tuple[str, list[str]]]:
    """(type, values) of the records that point ``name`` ('' = apex) at the router."""
    host = public_host.strip().rstrip(".")
    if name and host:
        return [("CNAME", [host + "."])]
    v4 = [ip for ip in public_ips if ipaddress.ip_address(ip).version == 4]
    v6 = [ip for ip in public_ips if ipaddress.ip_address(ip).version == 6]
    if v4 or v6:
        return [(kind, ips) for kind, ips in (("A", v4), ("AAAA", v6)) if ips]
    if not name and host and has_alias:
        return [("ALIAS", [host + "."])]
    if not name and host:
        raise InvalidInput("the apex cannot be a CNAME and this provider has no ALIAS: set "
                           "ROOST_PUBLIC_IP to the router's address")
    raise InvalidInput("Roost does not know the router's public address: set ROOST_PUBLIC_IP "
                       "(or ROOST_PUBLIC_HOST for subdomains)")
