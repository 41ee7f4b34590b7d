"""The email add-on's records (SPF, DKIM, DMARC, return path) go into the managed zone of its
domain, owned by the add-on, and live DNS then checks out; removing the add-on takes them out."""

from __future__ import annotations

from typing import Any

import pytest

from roost.mail import dnscheck
from roost.orchestration import mail_dns
from tests.dns.test_domains import app, pdns_zone


@pytest.fixture
def dns_settings() -> dict[str, Any]:
    """The name Roost's SMTP server goes by: the return path's MX points there."""
    return {"mail_hostname": "smtp.example.net"}


def test_email_records_are_published_checked_and_withdrawn(dns_api: Any, dns_platform: Any,
                                                           pdns: Any) -> None:
    zone = pdns_zone(dns_api, pdns)
    shop = app(dns_api)
    added = dns_api.post(f"/api/v1/apps/{shop}/addons",
                         json={"kind": "email", "options": {"domain": f"mail.{zone}"}})
    assert added.status_code in (200, 201), added.text
    assert f"published SPF, DKIM, DMARC and return-path records in the zone {zone}" in \
        added.json()["message"]
    _, wanted = mail_dns.wanted(dns_platform, shop)
    checked = dnscheck.check(wanted, pdns.nameserver)
    assert [(r.purpose, r.status) for r in checked] == [(r.purpose, "ok") for r in wanted]
    owners = {r["owner"] for r in dns_api.get(f"/api/v1/dns/zones/{zone}/records").json()
              if r["name"] != ""}
    assert owners == {f"email:{shop}"}

    assert dns_api.delete(f"/api/v1/apps/{shop}/addons/email").status_code in (200, 204)
    assert {r.status for r in dnscheck.check(wanted, pdns.nameserver)} == {"missing"}


def test_outside_a_managed_zone_the_records_are_for_the_user_to_publish(
        dns_api: Any, dns_platform: Any) -> None:
    shop = app(dns_api, "blog")
    added = dns_api.post(f"/api/v1/apps/{shop}/addons",
                         json={"kind": "email", "options": {"domain": "mail.elsewhere.test"}})
    assert added.status_code in (200, 201), added.text
    assert "publish the records `roost email dns blog` lists" in added.json()["message"]
