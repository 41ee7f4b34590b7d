"""PowerDNS Authoritative through ``octodns-powerdns`` (its HTTP API).

A zone's changes go out in one PATCH, which PowerDNS applies whole or not at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from roost.errors import InvalidInput
from roost.settings import Settings


def build(settings: Settings, options: dict[str, str], *, update_threshold: float,
          delete_threshold: float) -> Any:
    """An ``octodns_powerdns.PowerDnsProvider`` for the API at the zone's (or the settings')
    URL and key."""
    from octodns_powerdns import PowerDnsProvider

    url = options.get("url") or settings.dns_powerdns_url
    key = options.get("api_key") or settings.dns_powerdns_key
    if not url or not key:
        raise InvalidInput("PowerDNS needs its API URL and key: set ROOST_DNS_POWERDNS_URL and "
                           "ROOST_DNS_POWERDNS_KEY, or --option url=… --option api_key=…")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"the PowerDNS API URL must look like http://HOST:8081, got {url!r}")
    return PowerDnsProvider(
        "powerdns", host=parts.hostname, port=parts.port or (443 if parts.scheme == "https"
                                                             else 8081),
        scheme=parts.scheme, api_key=key, server_id=options.get("server_id") or "localhost",
        update_pcent_threshold=update_threshold, delete_pcent_threshold=delete_threshold,
        strict_supports=True, root_ns_warnings=False, timeout=15)
