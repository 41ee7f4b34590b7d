"""Email through the real CLI and `roost up`: an app's mail over SMTP and the Mailgun API
reaches a sink, the log and suppressions show what happened, and a SIGKILL of `roost up`
in the middle of a run loses no accepted message."""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import smtplib
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from roost.mail import dkim
from tests.conftest import free_port, wait_for
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.mail.servers import Hooks, Sink

DOMAIN = "mail.shop.test"
MID = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.stop()


def mail_env(sink: Sink) -> dict[str, str]:
    return {"ROOST_MAIL_RELAY": f"smtp://127.0.0.1:{sink.port}",
            "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
            "ROOST_MAIL_DNS_RESOLVER": "off"}


def with_email(srv: Server) -> dict[str, str]:
    """Create app shop with the email add-on; return its config vars."""
    ok(srv, "apps", "create", "shop")
    added = ok(srv, "addons", "add", "shop", "email", "--option", f"domain={DOMAIN}")
    assert "MAILGUN_API_KEY" in added and "roost email dns shop" in added
    listed = json.loads(ok(srv, "config", "shop", "--reveal", "--json"))
    return {v["key"]: v["value"] for v in listed} if isinstance(listed, list) else listed


def test_email_from_the_cli(tmp_path: Path, sink: Sink) -> None:
    srv = start_server(tmp_path, mail_env(sink))
    hooks = Hooks().start()
    try:
        env = with_email(srv)
        refused = srv.roost("email", "webhook", "shop", "ftp://example.org/x")
        assert refused.returncode != 0 and "http://" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        ok(srv, "email", "webhook", "shop", hooks.url)

        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"orders@{DOMAIN}", "ann@example.org", "Hi"
        msg.set_content("Hello Ann")
        with smtplib.SMTP(env["MAILGUN_SMTP_SERVER"], int(env["MAILGUN_SMTP_PORT"])) as smtp:
            smtp.login(env["MAILGUN_SMTP_LOGIN"], env["MAILGUN_SMTP_PASSWORD"])
            smtp.send_message(msg)
        answer = httpx.post(f"{env['MAILGUN_API_BASE']}/{DOMAIN}/messages",
                            auth=("api", env["MAILGUN_API_KEY"]),
                            data={"from": f"orders@{DOMAIN}", "to": "refused@example.org",
                                  "subject": "Hi", "text": "Hello"})
        assert answer.status_code == 200 and answer.json()["message"] == "Queued. Thank you."
        wait_for(lambda: sink.to("ann@example.org"))
        dns = json.loads(ok(srv, "email", "dns", "shop", "--json"))
        records = {r["name"]: r["value"] for r in dns["records"] if r["purpose"] == "dkim"}
        assert dkim.verify(sink.to("ann@example.org")[0].data, records)

        wait_for(lambda: "refused@example.org" in ok(srv, "email", "suppressions", "shop"))
        log = json.loads(ok(srv, "email", "log", "shop", "--json", "--event", "failed"))
        assert [(e["recipient"], e["code"]) for e in log] == [("refused@example.org", 550)]
        text = ok(srv, "email", "log", "shop", "--to", "ann@example.org")
        assert "delivered" in text and "accepted" in text
        wait_for(lambda: {b["event-data"]["event"] for b in hooks.bodies} >=
                 {"delivered", "failed"})
        ok(srv, "email", "suppressions", "remove", "shop", "refused@example.org")
        assert "refused@example.org" not in ok(srv, "email", "suppressions", "shop")
        bad = srv.roost("email", "log", "shop", "--event", "exploded")
        assert bad.returncode != 0
    finally:
        hooks.stop()
        stop_server(srv)


def test_sigkill_in_the_middle_loses_no_accepted_message(tmp_path: Path, sink: Sink) -> None:
    env_extra = mail_env(sink)
    srv = start_server(tmp_path, env_extra)
    env = with_email(srv)
    accepted: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            for i in range(60):
                try:
                    answer = http.post(f"{env['MAILGUN_API_BASE']}/{DOMAIN}/messages",
                                       auth=("api", env["MAILGUN_API_KEY"]),
                                       data={"from": f"orders@{DOMAIN}",
                                             "to": f"u{n}-{i}@example.org",
                                             "subject": "s", "text": "x" * 2000})
                except httpx.HTTPError:
                    return  # roost up is gone: this answer never came, so it was not accepted
                if answer.status_code == 200:
                    with lock:
                        accepted.append(answer.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    wait_for(lambda: len(sink.received) >= 60, timeout=120)
    os.killpg(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait()
    for t in threads:
        t.join()
    assert accepted
    again = start_server(tmp_path, {**env_extra, "ROOST_LISTEN": srv.env["ROOST_LISTEN"]})
    try:
        def ids() -> collections.Counter[str]:
            with sink.lock:
                return collections.Counter(MID.search(r.data).group(1).decode()  # type: ignore[union-attr]
                                           for r in sink.received)

        wait_for(lambda: set(accepted) <= set(ids()), timeout=180)
        twice = [mid for mid, n in ids().items() if n > 1]
        print(f"accepted {len(accepted)}, delivered {len(ids())}, twice {len(twice)}")
        # At most the messages each worker had between the sink's 250 and its commit.
        assert len(twice) <= 4, twice
    finally:
        stop_server(again)
