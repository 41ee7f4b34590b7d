"""Dashboard logins: the cookie carries a revocable session token, never the API token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from roost.api.deps import SESSION_COOKIE
from roost.core.secrets import hash_token
from roost.orchestration.platform import Platform as Context
from roost.store.models.sessions import DashboardSession


def _token(api: TestClient) -> str:
    return str(api.headers["Authorization"].split()[1])


def _login(browser: TestClient, token: str, **headers: str) -> str:
    """Log in; return the Set-Cookie header."""
    r = browser.post("/login", data={"token": token}, headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["set-cookie"]


def _csrf(browser: TestClient) -> dict[str, str]:
    """The form field every dashboard POST needs, read from the page as a browser would."""
    page = browser.get("/").text
    return {"csrf": page.split('name="csrf" value="', 1)[1].split('"', 1)[0]}


def test_login_cookie_is_a_session_not_the_api_token(api: TestClient, platform: Context
                                                      ) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    token = _token(api)
    browser = TestClient(api.app)
    header = _login(browser, token)
    cookie = browser.cookies[SESSION_COOKIE]
    assert token not in header and cookie != token
    assert "HttpOnly" in header and "SameSite=lax" in header and "Secure" not in header
    assert ">web<" in browser.get("/").text  # the session works for the dashboard
    with platform.sessions.begin() as session:  # stored only as a hash
        stored = session.scalars(select(DashboardSession)).all()
        assert [s.token_sha256 for s in stored] == [hash_token(cookie)]
    # The session cookie is no API credential, in either place.
    assert TestClient(api.app, cookies={SESSION_COOKIE: cookie}).get(
        "/api/v1/apps").status_code == 401
    assert TestClient(api.app).get("/api/v1/apps", headers={
        "Authorization": f"Bearer {cookie}"}).status_code == 401


def test_logout_revokes_the_session(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    browser = TestClient(api.app)
    _login(browser, _token(api))
    stolen = browser.cookies[SESSION_COOKIE]
    assert browser.post("/logout", follow_redirects=False).status_code == 403  # no CSRF token
    assert ">web<" in browser.get("/").text
    assert browser.post("/logout", data=_csrf(browser), follow_redirects=False).status_code == 303
    replay = TestClient(api.app, cookies={SESSION_COOKIE: stolen})
    page = replay.get("/")
    assert "Paste an API token" in page.text and ">web<" not in page.text
    assert replay.get("/apps/web", follow_redirects=False).status_code == 303
    # Other sessions stay: logging out ends only the session it was sent with.
    again, other = TestClient(api.app), TestClient(api.app)
    _login(again, _token(api))
    _login(other, _token(api))
    again.post("/logout", data=_csrf(again))
    assert ">web<" in other.get("/").text and ">web<" not in again.get("/").text


def test_cookie_is_secure_over_https(api: TestClient) -> None:
    direct = TestClient(api.app, base_url="https://testserver")
    assert "Secure" in _login(direct, _token(api))
    proxied = TestClient(api.app)
    assert "Secure" in _login(proxied, _token(api), **{"X-Forwarded-Proto": "https"})


def test_a_wrong_token_gets_no_session(api: TestClient, platform: Context) -> None:
    browser = TestClient(api.app)
    r = browser.post("/login", data={"token": "rst_wrong"}, follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers
    with platform.sessions.begin() as session:
        assert session.scalars(select(DashboardSession)).all() == []
