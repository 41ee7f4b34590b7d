"""With no relay, mail is captured: the inbox lists it, the log says so, the API and the
dashboard show it rendered with its DKIM result."""

from __future__ import annotations

from roost import credentials
from tests.conftest import wait_for
from tests.mail.conftest import DOMAIN, Mailer
from tests.mail.test_send import send_api, send_smtp


def test_captured_mail_is_listed_and_rendered(capture: Mailer) -> None:
    send_smtp(capture.env, "ann@example.org", subject="Welcome")
    answer = send_api(capture, {"from": f"orders@{DOMAIN}", "to": "bob@example.org",
                                "subject": "Receipt", "text": "Total: 3 EUR",
                                "html": "<h1>Total</h1><script>alert(1)</script>"},
                      files={"attachment": ("receipt.pdf", b"%PDF-1.4 ...", "application/pdf")})
    assert answer.status_code == 200
    inbox = wait_for(lambda: (lambda got: got if len(got) == 2 else None)(
        capture.client.get("/api/v1/apps/shop/email/inbox").json()))
    assert [m["subject"] for m in inbox] == ["Receipt", "Welcome"]  # type: ignore[index]
    log = capture.client.get("/api/v1/apps/shop/email/log",
                             params={"event": "captured"}).json()
    assert {e["recipient"] for e in log} == {"ann@example.org", "bob@example.org"}
    assert all("captured" in e["detail"] for e in log)

    receipt = inbox[0]["id"]  # type: ignore[index]
    shown = capture.client.get(f"/api/v1/apps/shop/email/messages/{receipt}").json()
    assert shown["dkim"] == "pass", shown["dkim_detail"]
    assert shown["text"].strip() == "Total: 3 EUR"
    assert "<h1>Total</h1>" in shown["html"]
    assert shown["attachments"] == [{"filename": "receipt.pdf",
                                     "content_type": "application/pdf", "size": 12}]
    assert ("Subject", "Receipt") in [tuple(h) for h in shown["headers"]]
    assert shown["deliveries"] == {"bob@example.org": "captured"}
    assert [e["event"] for e in shown["events"]] == ["accepted", "captured"]

    creds = credentials.read(capture.platform.settings.home)
    assert creds is not None
    browser = capture.client
    browser.post("/login", data={"token": creds.token})
    page = browser.get(f"/apps/shop/mail/{receipt}")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<iframe sandbox srcdoc=" in page.text
    assert "<script>" not in page.text  # the app's HTML only inside the escaped srcdoc
    assert "Total: 3 EUR" in page.text and ">pass<" in page.text
    listing = browser.get("/apps/shop/mail")
    assert "Welcome" in listing.text and "Receipt" in listing.text
    other = capture.client.get("/api/v1/apps/shop/email/messages/999")
    assert other.status_code == 404
