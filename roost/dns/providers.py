"""DNS providers by identifier, each an octoDNS provider, imported only when a zone uses it.

A kind names its octoDNS provider class (whose ``SUPPORTS`` is the set of record types the
provider takes, read by :func:`supports`), the options a zone may set, and which of them are
secrets (stored encrypted). Credentials come from a zone's own options first, then from the
settings (``ROOST_DNS_ROUTE53_*``, ``ROOST_DNS_POWERDNS_*``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from roost.errors import InvalidInput
from roost.settings import Settings


@dataclass(frozen=True)
class ProviderKind:
    """One kind of DNS provider: where its factory lives and what a zone may configure."""

    identifier: str
    factory: str  # "module:function" building the octoDNS provider
    provider_class: str  # "module:Class" of the octoDNS provider (its SUPPORTS)
    options: frozenset[str]
    secret_options: frozenset[str]
    apex_alias: str  # the provider's alias type at the apex ('' when it has none)


COMMON = frozenset({"nameservers"})  # authoritative servers to ask, host[:port] (domains)
KINDS: dict[str, ProviderKind] = {
    "route53": ProviderKind(
        "route53", "roost.dns.route53:build", "octodns_route53:Route53Provider",
        COMMON | {"access_key_id", "secret_access_key", "endpoint_url", "region",
                  "alias_hosted_zone_id"},
        frozenset({"secret_access_key"}), apex_alias="Route53Provider/ALIAS"),
    "powerdns": ProviderKind(
        "powerdns", "roost.dns.powerdns:build", "octodns_powerdns:PowerDnsProvider",
        COMMON | {"url", "api_key", "server_id"}, frozenset({"api_key"}), apex_alias="ALIAS"),
}


def kind(identifier: str) -> ProviderKind:
    """The provider kind named ``identifier``, or a one-line refusal listing the kinds."""
    found = KINDS.get(identifier.strip().lower())
    if found is None:
        raise InvalidInput(f"unknown DNS provider {identifier!r}: use one of "
                           f"{', '.join(sorted(KINDS))}")
    return found


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise InvalidInput(f"the {module.split('.')[0]} package is not installed: "
                           "reinstall Roost with `make install`") from exc


def supports(identifier: str) -> frozenset[str]:
    """The record types the provider takes (its octoDNS class's ``SUPPORTS``)."""
    return frozenset(_load(kind(identifier).provider_class).SUPPORTS)


def check_options(identifier: str, options: dict[str, str]) -> None:
    """Refuse an option the provider does not know, naming the ones it does."""
    known = kind(identifier).options
    for key in options:
        if key not in known:
            raise InvalidInput(f"unknown option {key!r} for a {identifier} zone: use "
                               f"{', '.join(sorted(known))}")


def build(settings: Settings, identifier: str, options: dict[str, str], *,
          update_threshold: float = 0.3, delete_threshold: float = 0.3) -> Any:
    """The octoDNS provider of a zone (``options``: the zone's own, secrets decrypted)."""
    factory = _load(kind(identifier).factory)
    return factory(settings, options, update_threshold=update_threshold,
                   delete_threshold=delete_threshold)
