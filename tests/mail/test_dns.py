"""`roost email dns`: the records a domain needs, checked against a DNS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.mail.conftest import DOMAIN, Mailer, start_mailer
from tests.mail.servers import Dns, Sink
from tests.mail.test_send import send_smtp


@pytest.fixture
def dns_server() -> Iterator[Dns]:
    server = Dns().start()
    yield server
    server.stop()


@pytest.fixture
def checked(tmp_path: Path, sink: Sink, dns_server: Dns) -> Iterator[tuple[Mailer, Dns]]:
    url = f"sqlite:///{tmp_path / 'roost.db'}"
    yield from ((m, dns_server) for m in start_mailer(
        url, tmp_path / "home", sink, mail_hostname="mx.roost.test",
        mail_dns_resolver=dns_server.address))


def test_records_are_checked_against_live_dns(checked: tuple[Mailer, Dns]) -> None:
    mailer, dns_server = checked
    answer = mailer.client.get("/api/v1/apps/shop/email/dns").json()
    records = {r["purpose"]: r for r in answer["records"]}
    assert records["spf"]["value"] == "v=spf1 a:mx.roost.test a:127.0.0.1 ~all"
    assert records["dkim"]["name"].endswith(f"._domainkey.{DOMAIN}")
    assert records["dkim"]["value"].startswith("v=DKIM1; k=rsa; p=")
    assert records["return-path"] == {**records["return-path"], "type": "MX",
                                      "name": f"bounce.{DOMAIN}", "value": "10 mx.roost.test."}
    assert {r["status"] for r in answer["records"]} == {"missing"}
    assert len(answer["problems"]) == 5

    dns_server.records[(DOMAIN, "TXT")] = ['"v=spf1 a:mx.roost.test a:127.0.0.1 ~all"']
    dkim_value = records["dkim"]["value"]
    dns_server.records[(records["dkim"]["name"], "TXT")] = [
        " ".join(f'"{dkim_value[i:i + 200]}"' for i in range(0, len(dkim_value), 200))]
    dns_server.records[(f"_dmarc.{DOMAIN}", "TXT")] = ['"v=DMARC1; p=reject"']
    dns_server.records[(f"bounce.{DOMAIN}", "MX")] = ["10 elsewhere.example."]
    answer = mailer.client.get("/api/v1/apps/shop/email/dns").json()
    status = {r["purpose"]: r["status"] for r in answer["records"]}
    assert status == {"spf": "ok", "dkim": "ok", "dmarc": "ok", "return-path": "differs",
                      "return-path spf": "missing"}
    assert answer["problems"] == [f"return-path MX bounce.{DOMAIN} has 10 elsewhere.example., "
                                  "not 10 mx.roost.test.",
                                  f"return-path spf TXT bounce.{DOMAIN} is missing"]

    rotated = mailer.client.post("/api/v1/apps/shop/email/dkim/rotate").json()
    assert rotated["name"] != records["dkim"]["name"]
    after = mailer.client.get("/api/v1/apps/shop/email/dns").json()
    dkim_row = next(r for r in after["records"] if r["purpose"] == "dkim")
    assert dkim_row["name"] == rotated["name"] and dkim_row["status"] == "missing"


def test_sending_from_a_domain_without_records_warns_in_the_log(
        checked: tuple[Mailer, Dns], caplog: pytest.LogCaptureFixture) -> None:
    mailer, _ = checked
    send_smtp(mailer.env, "ann@example.org")
    wait_for(lambda: mailer.sink.to("ann@example.org"))  # it still goes out
    wait_for(lambda: any("receivers are likely to reject it" in r.getMessage()
                         for r in caplog.records))
    warning = next(r.getMessage() for r in caplog.records
                   if "likely to reject" in r.getMessage())
    assert f"spf TXT {DOMAIN} is missing" in warning and "roost email dns shop" in warning


def test_direct_delivery_goes_to_the_recipients_mx(tmp_path: Path, sink: Sink,
                                                   dns_server: Dns) -> None:
    dns_server.records[("example.org", "MX")] = ["10 localhost."]  # the sink's host
    url = f"sqlite:///{tmp_path / 'roost.db'}"
    run = start_mailer(url, tmp_path / "home", sink, mail_relay="", mail_direct=True,
                       mail_mx_port=sink.port, mail_dns_resolver=dns_server.address)
    mailer = next(run)
    try:
        send_smtp(mailer.env, "ann@example.org")
        wait_for(lambda: mailer.sink.to("ann@example.org"))
        send_smtp(mailer.env, "bob@gone.example.net")
        log = wait_for(lambda: mailer.client.get(
            "/api/v1/apps/shop/email/log", params={"event": "failed"}).json())
        assert log[0]["recipient"] == "bob@gone.example.net"  # type: ignore[index]
        assert "does not exist" in log[0]["detail"]  # type: ignore[index]
    finally:
        run.close()
