"""The /git endpoint's refusals and the forge webhook API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from roost.gitserve.forge import sign
from roost.store.models.forge import ForgeHook

PUSH = json.dumps({"ref": "refs/heads/main", "after": "a" * 40,
                   "repository": {"clone_url": "http://127.0.0.1:9/o/r.git"}}).encode()


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"roost:{token}".encode()).decode()}


def test_git_asks_for_credentials_and_refuses_a_wrong_token(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    token = api.headers["Authorization"].removeprefix("Bearer ")
    refs = "/git/web.git/info/refs?service=git-receive-pack"
    anonymous = TestClient(api.app)
    missing = anonymous.get(refs)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    wrong = anonymous.get(refs, headers=basic("nope"))
    assert wrong.status_code == 401 and "invalid API token" in wrong.text
    served = anonymous.get(refs, headers=basic(token))
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/x-git-receive-pack-advertisement"
    assert b"# service=git-receive-pack" in served.content


def test_git_refuses_other_paths_and_unknown_apps(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    token = api.headers["Authorization"].removeprefix("Bearer ")
    anonymous = TestClient(api.app)
    assert anonymous.get("/git/web.git/HEAD", headers=basic(token)).status_code == 422
    assert anonymous.get("/git/web.git/objects/info/packs",
                         headers=basic(token)).status_code == 422
    assert anonymous.get("/git/web.git/info/refs", headers=basic(token)).status_code == 422
    assert anonymous.get("/git/WEB/info/refs?service=git-upload-pack").status_code == 404
    unknown = anonymous.get("/git/nope.git/info/refs?service=git-upload-pack",
                            headers=basic(token))
    assert unknown.status_code == 404 and "no app named 'nope'" in unknown.text
    assert "roost apps create nope" in unknown.text


def test_hook_secret_is_shown_once_and_stored_encrypted(api: TestClient, platform: object
                                                        ) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    made = api.post("/api/v1/apps/web/hooks", json={"provider": "github"})
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert made.json()["path"] == "/hooks/github/web" and made.json()["branch"] == "main"
    listed = api.get("/api/v1/apps/web/hooks").json()
    assert [h["provider"] for h in listed] == ["github"] and listed[0]["secret"] == ""
    with platform.sessions.begin() as session:  # type: ignore[attr-defined]
        stored = session.scalar(select(ForgeHook.secret_encrypted))
    assert secret.encode() not in stored
    again = api.post("/api/v1/apps/web/hooks", json={"provider": "github", "branch": "prod"})
    assert again.json()["secret"] != secret and again.json()["branch"] == "prod"


@pytest.mark.parametrize("body", [{"provider": "bitbucket"}, {"provider": "github",
                                                              "branch": "--upload-pack=x"},
                                  {"provider": "github", "branch": "a..b"}, {}])
def test_bad_hook_settings_are_refused(api: TestClient, body: dict[str, str]) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    refused = api.post("/api/v1/apps/web/hooks", json=body)
    assert refused.status_code == 422 and set(refused.json()["error"]) == {"code", "message"}
    assert api.get("/api/v1/apps/web/hooks").json() == []
    assert api.delete("/api/v1/apps/web/hooks/gitlab").status_code == 404


def test_webhooks_deploy_nothing_unless_signed_for_the_branch(api: TestClient) -> None:
    api.post("/api/v1/apps", json={"name": "web"})
    secret = api.post("/api/v1/apps/web/hooks", json={"provider": "gitea"}).json()["secret"]
    forge = TestClient(api.app)  # a forge sends no API token
    url = "/hooks/gitea/web"
    assert forge.post(url, content=PUSH, headers={"X-Gitea-Event": "push"}).status_code == 401
    forged = forge.post(url, content=PUSH, headers=sign("gitea", "guess", PUSH))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "forbidden"
    other = PUSH.replace(b"refs/heads/main", b"refs/heads/dev")
    ignored = forge.post(url, content=other, headers=sign("gitea", secret, other))
    assert ignored.status_code == 200 and "this hook deploys main" in ignored.json()["message"]
    ping = forge.post(url, content=PUSH, headers={**sign("gitea", secret, PUSH),
                                                  "X-Gitea-Event": "create"})
    assert ping.status_code == 200 and "ignored" in ping.json()["message"]
    assert forge.post("/hooks/github/web", content=PUSH,
                      headers=sign("github", secret, PUSH)).status_code == 404  # no such hook
    assert api.get("/api/v1/apps/web/builds").json() == []
    assert "ignored a push to dev" in api.get("/api/v1/apps/web/hooks").json()[0]["last_result"]


def test_destroying_an_app_deletes_its_repository(api: TestClient, platform: object) -> None:
    created = api.post("/api/v1/apps", json={"name": "gone"})
    assert created.status_code == 201
    token = api.headers["Authorization"].removeprefix("Bearer ")
    refs = "/git/gone.git/info/refs?service=git-upload-pack"
    assert TestClient(api.app).get(refs, headers=basic(token)).status_code == 200
    repos_dir = platform.settings.home / "git" / "repos"  # type: ignore[attr-defined]
    assert len(list(repos_dir.iterdir())) == 1
    assert api.delete("/api/v1/apps/gone", params={"confirm": "gone"}).status_code == 204
    assert list(repos_dir.iterdir()) == []
