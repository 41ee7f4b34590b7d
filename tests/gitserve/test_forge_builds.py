"""A deploy started by a forge webhook is a build like any other: listed by `roost builds`
(the API the CLI calls), its output on the dashboard's build page and in its live stream;
a fetch that fails says why there too. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from roost.gitserve.forge import sign
from tests.conftest import wait_for
from tests.gitserve.forge_server import forge


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.strip()


def _forge_repo(root: Path, work: Path) -> str:
    """A bare repository ``team/web.git`` under ``root`` with one commit; its sha."""
    work.mkdir()
    (work / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "first")
    (root / "team").mkdir(parents=True)
    _git(work, "clone", "-q", "--bare", str(work), str(root / "team" / "web.git"))
    return _git(work, "rev-parse", "HEAD")


def _dashboard(api: TestClient) -> TestClient:
    browser = TestClient(api.app, base_url="http://127.0.0.1")
    token = api.headers["Authorization"].removeprefix("Bearer ")
    logged = browser.post("/login", data={"token": token},
                          headers={"origin": "http://127.0.0.1"}, follow_redirects=False)
    assert logged.status_code == 303
    return browser


def _deliver(api: TestClient, secret: str, sha: str, clone_url: str) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": clone_url}}).encode()
    sent = TestClient(api.app).post("/hooks/github/web", content=body,
                                    headers={"Content-Type": "application/json",
                                             **sign("github", secret, body)})
    assert sent.status_code == 202, sent.text


def _builds(api: TestClient) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/apps/web/builds").json())


def test_a_webhook_deploy_shows_its_build_like_any_deploy(api: TestClient,
                                                          tmp_path: Path) -> None:
    assert api.post("/api/v1/apps", json={"name": "web"}).status_code == 201
    secret = api.post("/api/v1/apps/web/hooks", json={"provider": "github"}).json()["secret"]
    sha = _forge_repo(tmp_path / "forge", tmp_path / "work")
    browser = _dashboard(api)
    with forge(tmp_path / "forge") as url:
        _deliver(api, secret, "b" * 40, f"{url}/team/missing.git")
        assert wait_for(lambda: _builds(api) and _builds(api)[0]["status"] == "failed",
                        timeout=60)
        failed = _builds(api)[0]
        page = browser.get(f"/apps/web/builds/{failed['id']}")
        assert page.status_code == 200 and "cannot fetch bbbbbbbbbbbb" in page.text

        _deliver(api, secret, sha, f"{url}/team/web.git")
        assert wait_for(lambda: len(_builds(api)) == 2 and
                        _builds(api)[0]["status"] == "succeeded", timeout=120)
    built = _builds(api)[0]
    assert built["actor"] == "github webhook" and built["release"] == 1
    assert api.get("/api/v1/apps/web/releases").json()[0]["commit"] == sha
    page = browser.get(f"/apps/web/builds/{built['id']}")
    assert page.status_code == 200
    assert f"Fetched {sha[:7]} (branch main) from {url}/team/web.git for a github push" \
        in page.text
    assert "Nothing to compile: the Procfile runs the app as it is" in page.text
    assert "Builds" in page.text
    listed = browser.get("/apps/web/builds")
    assert f"/apps/web/builds/{built['id']}" in listed.text
    stream = browser.get(f"/apps/web/builds/{built['id']}/stream")
    assert stream.status_code == 200
    assert "Nothing to compile" in stream.text and "event: end" in stream.text
