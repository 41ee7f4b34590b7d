"""The peer's Route53 provider for the DNS benchmark: octodns-route53's own, with only the
one fix moto needs (its ListHealthChecks answer has no ``IsTruncated``). Batching, planning
and applying are octodns-route53's, untouched."""

from __future__ import annotations

from typing import Any

from octodns_route53 import Route53Provider


class MotoRoute53Provider(Route53Provider):
    """octodns-route53's provider, reading moto's health-check list as one page."""

    @property
    def health_checks(self) -> dict[str, Any]:
        """Route53's health checks created by octoDNS (none in the benchmark)."""
        if getattr(self, "_health_checks", None) is None:
            resp = self._conn.list_health_checks()
            self._health_checks = {c["Id"]: c for c in resp["HealthChecks"]
                                   if len(c.get("CallerReference", "")) > 4
                                   and c["CallerReference"][4] == ":"}
        return dict(self._health_checks)
