"""Which record points a custom domain at the router: the rules, no I/O.

A subdomain gets a CNAME to ``ROOST_PUBLIC_HOST`` when one is set, else A/AAAA records to
``ROOST_PUBLIC_IP``. The apex, where a CNAME may not be, gets A/AAAA records to
``ROOST_PUBLIC_IP``; without one, an alias to ``ROOST_PUBLIC_HOST`` in the provider's own
form: PowerDNS's ``ALIAS`` record, or Route53's alias (``Route53Provider/ALIAS``), which can
point only at a record of the same hosted zone (its A/AAAA records) or at an AWS service
such as a load balancer (with the service's hosted zone id, the zone's
``alias_hosted_zone_id`` option).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from roost.errors import InvalidInput

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ROUTE53_ALIAS = "Route53Provider/ALIAS"
# Route53's aliases to AWS services are recognised by these suffixes (octodns-route53's list).
AWS_SERVICES = ("amazonaws.com", "cloudfront.net", "elasticbeanstalk.com",
                "awsglobalaccelerator.com")

Wanted = list[tuple[str, dict[str, Any]]]  # (type, octoDNS data) of each record


def hostname(value: str) -> str:
    """A host name in lower case without the final dot."""
    host = value.strip().lower().rstrip(".")
    if not HOSTNAME.fullmatch(host):
        raise InvalidInput(f"invalid hostname {value!r}: give a name like www.example.com")
    return host


def records_for(name: str, public_ips: list[str], public_host: str, alias: str, *,
                zone: str = "", host_types: frozenset[str] = frozenset(),
                alias_zone_id: str = "") -> Wanted:
    """(type, octoDNS data) of the records that point ``name`` ('' = apex) of ``zone`` at
    the router. ``alias``: the provider's apex alias type ('' when it has none);
    ``host_types``: the types of the zone's records at the public host's name (a Route53
    alias needs its A/AAAA records there)."""
    host = public_host.strip().lower().rstrip(".")
    if name and host:
        return [("CNAME", {"value": host + "."})]
    v4 = [ip for ip in public_ips if ipaddress.ip_address(ip).version == 4]
    v6 = [ip for ip in public_ips if ipaddress.ip_address(ip).version == 6]
    if v4 or v6:
        return [(kind, {"values": ips}) for kind, ips in (("A", v4), ("AAAA", v6)) if ips]
    if not name and host and alias == "ALIAS":
        return [("ALIAS", {"value": host + "."})]
    if not name and host and alias == ROUTE53_ALIAS:
        return [(ROUTE53_ALIAS, {"values": route53_alias(host, zone, host_types,
                                                         alias_zone_id)})]
    if not name and host:
        raise InvalidInput("the apex cannot be a CNAME and this provider has no ALIAS: set "
                           "ROOST_PUBLIC_IP to the router's address")
    raise InvalidInput("Roost does not know the router's public address: set ROOST_PUBLIC_IP "
                       "(or ROOST_PUBLIC_HOST for subdomains)")


def route53_alias(host: str, zone: str, host_types: frozenset[str], alias_zone_id: str
                  ) -> list[dict[str, Any]]:
    """The values of a Route53 alias at ``zone``'s apex to ``host``: its A and AAAA
    records in the same zone, or an AWS service in the hosted zone ``alias_zone_id``."""
    if any(host.endswith("." + s) or host == s for s in AWS_SERVICES):
        if not alias_zone_id:
            raise InvalidInput(f"a Route53 alias to the AWS service {host} needs the service's "
                               f"hosted zone id: `roost dns zones add {zone} --provider route53 "
                               "--option alias_hosted_zone_id=Z…`, or set ROOST_PUBLIC_IP")
        return [{"name": host + ".", "type": "A", "hosted-zone-id": alias_zone_id,
                 "evaluate-target-health": False}]
    if not host.endswith("." + zone):
        raise InvalidInput(f"Route53 cannot alias the apex of {zone} to {host} (outside the "
                           "zone; an alias points only at a record of its own zone or an AWS "
                           "service): set ROOST_PUBLIC_IP to the router's address")
    label = host[: -len(zone) - 1]
    kinds = sorted(host_types & {"A", "AAAA"})
    if not kinds:
        raise InvalidInput(f"a Route53 alias at the apex of {zone} points at {host}'s A/AAAA "
                           f"records, and {zone} has none: `roost dns set {zone} {label} A "
                           "ADDRESS`, or set ROOST_PUBLIC_IP")
    return [{"name": label, "type": kind, "evaluate-target-health": False} for kind in kinds]
