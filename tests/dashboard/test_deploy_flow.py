"""In a real browser: log in, deploy, watch the build live, see the release, roll back."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.conftest import wait_for
from tests.dashboard.conftest import (
    EXAMPLES,
    Watched,
    cli_ok,
    gate,
    log_in,
    releases,
)
from tests.e2e.conftest import ROOST, Server

pytestmark = pytest.mark.xdist_group("browser")


def test_log_in_refuses_a_wrong_token_then_lists_the_apps(browser: Browser, roost: Server,
                                                          token: str, web: str) -> None:
    context = browser.new_context()
    try:
        w = Watched(context.new_page())
        w.expected.append("status of 401")  # the refused login's own answer, not a script
        w.page.goto(roost.url + "/")
        w.page.get_by_label("API token").fill("rst_not-a-token")
        w.page.get_by_role("button", name="Log in").click()
        expect(w.page.get_by_text("That token is not valid.")).to_be_visible()
        w.shot("login-refused")
        log_in(w.page, roost.url, token)
        row = w.page.locator("#apps tr[data-app=web]")
        expect(row).to_contain_text("not deployed")
        w.shot("apps")
        assert w.errors == []
    finally:
        context.close()


def test_deploy_watch_the_build_live_then_see_the_release(watched: Watched, roost: Server,
                                                          web: str) -> None:
    page = watched.page
    gate(roost).unlink(missing_ok=True)
    before = len(releases(roost))
    deploy = subprocess.Popen([ROOST, "deploy", web, str(EXAMPLES / "python-app")],
                              env=roost.env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        def running_build() -> bool:
            page.goto(f"{roost.url}/apps/{web}/builds")
            return page.locator("#builds tr[data-build]", has_text="running").count() > 0

        wait_for(running_build, timeout=60, interval=0.5)
        watched.shot("builds-running")
        page.locator("#builds tr[data-build]", has_text="running").get_by_role("link").click()
        log = page.locator("#build-log")
        expect(log).to_contain_text("waiting for the gate")
        expect(page.locator("#build-status")).to_have_text("running")
        watched.shot("build-running")
        gate(roost).touch()  # the rest of the build arrives over SSE, without a reload
        expect(log).to_contain_text("gate open")
        expect(page.locator("#build-status")).to_contain_text("succeeded", timeout=240_000)
        expect(log).to_contain_text("Python environment ready")
        watched.shot("build-done")
        out = deploy.communicate(timeout=120)[0]
        assert deploy.returncode == 0, out
    finally:
        if deploy.poll() is None:
            deploy.kill()
    version = before + 1
    page.goto(f"{roost.url}/apps/{web}/releases")
    current = page.locator(f"#releases tr[data-release=v{version}]")
    expect(current).to_contain_text("(current)")
    expect(current).to_contain_text("succeeded")
    expect(current.locator("time")).to_have_attribute("title", re.compile(r"UTC$"))
    watched.shot("releases")
    page.goto(f"{roost.url}/")
    expect(page.locator("#apps tr[data-app=web]")).to_contain_text(f"v{version}")


def test_roll_back_only_after_confirming(watched: Watched, roost: Server, deployed: str
                                         ) -> None:
    page = watched.page
    cli_ok(roost, "config", "set", deployed, "MARK=before-rollback")  # a release to leave
    listed = releases(roost)
    target = int(str(listed[1]["version"]))
    page.goto(f"{roost.url}/apps/{deployed}/releases")
    button = page.get_by_role("button", name=f"Roll back to v{target}")

    dismissed: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dismissed.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    button.click()
    wait_for(lambda: dismissed)
    assert f"v{target}" in dismissed[0]
    assert len(releases(roost)) == len(listed)  # dismissed: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.get_by_role("status")).to_contain_text("Rolled back", timeout=120_000)
    newest = releases(roost)[0]
    assert newest["version"] == int(str(listed[0]["version"])) + 1 and newest["current"]
    assert (newest.get("meta") or {}).get("rollback_of") == target  # type: ignore[union-attr]
    expect(page.locator(f"#releases tr[data-release=v{newest['version']}]")
           ).to_contain_text("(current)")
    watched.shot("rolled-back")
    audit = [(e["actor"], e["action"]) for e in _audit(roost)]
    assert ("admin", "releases.create") in audit


def _audit(roost: Server) -> list[dict[str, str]]:
    import httpx

    token = roost.env.get("ROOST_TOKEN") or _token(roost)
    listed: list[dict[str, str]] = httpx.get(roost.url + "/api/v1/audit", headers={
        "Authorization": f"Bearer {token}"}).json()
    return listed


def _token(roost: Server) -> str:
    import json

    return str(json.loads((roost.home / "credentials.json").read_text())["token"])


def test_deploy_by_git_push_shows_the_commit(watched: Watched, roost: Server, web: str,
                                             tmp_path: Path) -> None:
    """`git push roost main` deploys; the dashboard shows the build and the commit."""
    gate(roost).touch()
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "python-app", repo)
    env = {**roost.env, "HOME": str(tmp_path), "GIT_TERMINAL_PROMPT": "0"}

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    git("init", "-q", "-b", "main")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.com", "add", ".")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-qm", "first")
    sha = git("rev-parse", "HEAD").strip()
    for args in (("login", roost.url, "--token", _token(roost)), ("git", "remote", web)):
        done = subprocess.run([ROOST, *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    pushed = git("push", "roost", "main")
    assert "remote: -----> " in pushed  # the build streamed back to git
    watched.page.goto(f"{roost.url}/apps/{web}/builds")
    expect(watched.page.locator("#builds tr[data-build]").first).to_contain_text("succeeded")
    watched.page.goto(f"{roost.url}/apps/{web}/releases")
    newest = watched.page.locator("#releases tr[data-release]").first
    expect(newest).to_contain_text(sha[:10])
    expect(newest).to_contain_text("(current)")
    watched.shot("git-push-release")
