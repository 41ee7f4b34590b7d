"""The dashboard's forms without a browser: every POST needs the session's CSRF token and a
same-site origin, changes nothing otherwise, and acts as the logged-in user."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from roost.api.dashboard.format import latency

ACTIONS = ["/apps/web/rollback", "/apps/web/restart", "/apps/web/scale",
           "/apps/web/config/set", "/apps/web/config/unset", "/apps/web/config/reveal",
           "/apps/web/vulns/ignore", "/incidents/1/ack", "/logout"]


def _browser(api: TestClient) -> tuple[TestClient, str]:
    """A logged-in browser and its CSRF token, read from the page."""
    browser = TestClient(api.app)
    token = str(api.headers["Authorization"].split()[1])
    page = browser.post("/login", data={"token": token}).text
    return browser, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("ms,shown", [(0.4, "400 µs"), (0.85, "850 µs"), (0.0123, "12.3 µs"),
                                      (4.25, "4.2 ms"), (120.4, "120 ms"), (1250, "1.25 s"),
                                      (None, "–")])
def test_latencies_keep_their_precision(ms: float | None, shown: str) -> None:
    assert latency(ms) == shown


def test_every_action_refuses_a_missing_or_foreign_csrf_token(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    browser, _ = _browser(api)
    _, other = _browser(api)  # another session's token is no good here
    for path in ACTIONS:
        data = {"key": "SECRET", "value": "x", "type": "web", "count": "2", "release": "v1",
                "id": "GHSA-x", "reason": "r"}
        assert browser.post(path, data=data, follow_redirects=False).status_code == 403, path
        assert browser.post(path, data={**data, "csrf": other},
                            follow_redirects=False).status_code == 403, path
    assert api.get("/api/v1/apps/web/config").json().keys() >= {"OTEL_SERVICE_NAME"}
    assert "SECRET" not in api.get("/api/v1/apps/web/config").json()
    assert ">web<" in browser.get("/").text  # still logged in: the forged logout failed


def test_a_cross_site_post_is_refused_even_with_the_token(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    browser, csrf = _browser(api)
    r = browser.post("/apps/web/config/set", data={"csrf": csrf, "key": "A", "value": "1"},
                     headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "A" not in api.get("/api/v1/apps/web/config").json()
    assert browser.post("/login", data={"token": "x"}, headers={
        "Origin": "https://evil.example"}).status_code == 403
    # Behind a proxy that rewrites Host, the host the browser asked for still counts.
    proxied = browser.post("/apps/web/config/set", data={"csrf": csrf, "key": "B", "value": "1"},
                           headers={"Origin": "https://roost.example.com",
                                    "X-Forwarded-Host": "roost.example.com"},
                           follow_redirects=False)
    assert proxied.status_code == 303 and "B" in api.get("/api/v1/apps/web/config").json()


def test_a_config_change_acts_as_the_user_and_says_what_it_did(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    browser, csrf = _browser(api)
    r = browser.post("/apps/web/config/set", data={"csrf": csrf, "key": "GREETING",
                                                    "value": "hi"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/apps/web/config?done=")
    assert "Set GREETING" in browser.get(r.headers["location"]).text
    forged = browser.get("/apps/web/config", params={"done": "Your account is closed"}).text
    assert "Your account is closed" not in forged  # a link from elsewhere shows no message
    assert api.get("/api/v1/apps/web/config/GREETING").json() == {"GREETING": "hi"}
    bad = browser.post("/apps/web/config/set", data={"csrf": csrf, "key": "BAD-KEY",
                                                      "value": "x"})
    assert bad.status_code == 200 and "BAD-KEY" in bad.text and 'role="alert"' in bad.text
    assert "BAD-KEY" not in api.get("/api/v1/apps/web/config").json()
    revealed = browser.post("/apps/web/config/reveal", data={"csrf": csrf})
    assert revealed.status_code == 200 and ">hi<" in revealed.text
    audit = [(e["actor"], e["action"]) for e in api.get("/api/v1/audit").json()]
    assert ("admin", "config.set") in audit and ("admin", "config.reveal") in audit


def test_pages_carry_a_content_security_policy_and_refuse_framing(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    browser, _ = _browser(api)
    for path in ("/", "/apps/web", "/apps/web/config", "/apps/web/uptime"):
        r = browser.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


def test_a_stream_needs_a_session(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    stranger = TestClient(api.app)
    assert stranger.get("/apps/web/logs/stream").status_code == 401
    assert stranger.get("/apps/web/builds/1/stream").status_code == 401


def test_a_missing_app_is_a_page_for_the_browser_and_json_for_the_api(api: TestClient
                                                                      ) -> None:
    browser, _ = _browser(api)
    page = browser.get("/apps/nope/releases", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "nope" in page.text and "Back to the dashboard" in page.text
    assert api.get("/api/v1/apps/nope", headers={"Accept": "text/html"}).json()["error"]
