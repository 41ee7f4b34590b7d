"""`git push` deploys, and forge webhooks deploy signed pushes, against a real `roost up`.

A real git client pushes over smart HTTP; authentication goes through the credential
helper that `roost login` installs (in a HOME of the test's own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import httpx

from roost.gitserve.forge import sign
from tests.conftest import wait_for
from tests.e2e.conftest import ROOST, Server, shared
from tests.e2e.test_foundation import ok
from tests.gitserve.forge_server import forge
from tests.wheelhouse import EXAMPLES

PROCFILE = "web: python3 -m http.server $PORT\n"


def git_env(server: Server, tmp: Path, **extra: str) -> dict[str, str]:
    """The server's CLI environment, with a HOME (and so a global git config) of the test's."""
    home = tmp / "user-home"
    home.mkdir(exist_ok=True)
    return {**server.env, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "a@x.test",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "a@x.test", **extra}


def git(env: dict[str, str], repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)


def commit_all(env: dict[str, str], repo: Path, message: str) -> str:
    assert git(env, repo, "add", "-A").returncode == 0
    assert git(env, repo, "commit", "-qm", message).returncode == 0
    return git(env, repo, "rev-parse", "HEAD").stdout.strip()


def new_repo(env: dict[str, str], repo: Path, files: dict[str, str] | Path) -> str:
    """A repository with one commit of ``files`` (a dict, or a directory to copy)."""
    if isinstance(files, Path):
        shutil.copytree(files, repo)
    else:
        repo.mkdir(parents=True)
        for name, text in files.items():
            (repo / name).write_text(text)
    assert git(env, repo, "init", "-q", "-b", "main").returncode == 0
    return commit_all(env, repo, "first")


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROOST, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def served(server: Server, app: str) -> str:
    """What the app answers through the router."""
    router = server.env["ROOST_ROUTER_LISTEN"]
    response = httpx.get(f"http://{router}/", headers={"Host": f"{app}.localhost"}, timeout=10)
    return response.text if response.status_code == 200 else ""


def releases(server: Server, app: str) -> list[dict[str, object]]:
    return list(json.loads(ok(server, "releases", app, "--json")))


def token_of(server: Server) -> str:
    return str(json.loads((server.home / "credentials.json").read_text())["token"])


def test_git_push_deploys_the_example_and_streams_the_build(
        server: Server, wheelhouse: dict[str, str], tmp_path: Path) -> None:
    env = git_env(server, tmp_path)
    created = ok(server, "apps", "create", "web")
    assert f"{server.url}/git/web.git" in created
    ok(server, "config", "set", "web", *(f"{k}={v}" for k, v in wheelhouse.items()))
    login = cli(env, tmp_path, "login", server.url, "--token", token_of(server))
    assert login.returncode == 0 and "credential helper" in login.stdout, login.stderr
    helpers = git(env, tmp_path, "config", "--global", "--get-all",
                  f"credential.{server.url}.helper").stdout.splitlines()
    assert helpers[0] == "" and helpers[1].endswith("-m roost.cli.gitcred")

    repo = tmp_path / "web"
    first = new_repo(env, repo, EXAMPLES / "python-app")
    remote = cli(env, repo, "git", "remote", "web")
    assert remote.returncode == 0, remote.stderr
    assert git(env, repo, "remote", "get-url", "roost").stdout.strip() == \
        f"{server.url}/git/web.git"

    push = git(env, repo, "push", "roost", "main")
    assert push.returncode == 0, push.stderr
    assert "remote: -----> Python app detected" in push.stderr  # the build, streamed
    assert f"remote: -----> Released v1 of web ({first[:7]})" in push.stderr
    assert wait_for(lambda: served(server, "web"), timeout=60)
    assert releases(server, "web")[0]["commit"] == first
    assert first[:7] in ok(server, "releases", "web")

    (repo / "app.py").write_text((repo / "app.py").read_text() + "\n# one more line\n")
    second = commit_all(env, repo, "second")
    again = git(env, repo, "push", "--progress", "roost", "main")
    assert again.returncode == 0, again.stderr
    assert "Writing objects: 100% (3/3)" in again.stderr  # commit, tree, app.py only
    now = releases(server, "web")[0]
    assert now["version"] == 2 and now["commit"] == second and now["current"]


def test_rejected_pushes_change_nothing(server: Server, tmp_path: Path) -> None:
    env = git_env(server, tmp_path)
    ok(server, "apps", "create", "proc")
    repo = tmp_path / "proc"
    new_repo(env, repo, {"README": "nothing any buildpack recognises\n"})
    assert cli(env, repo, "git", "remote", "proc").returncode == 0  # installs a local helper

    failed = git(env, repo, "push", "roost", "main")
    assert failed.returncode != 0
    assert "deploy of proc failed at step detect: no buildpack detected" in failed.stderr
    assert "[remote rejected] main -> main (pre-receive hook declined)" in failed.stderr
    assert git(env, repo, "ls-remote", "roost").stdout == ""  # the ref was not updated
    assert json.loads(ok(server, "builds", "proc", "--json"))[0]["status"] == "failed"

    (repo / "Procfile").write_text(PROCFILE)
    (repo / "index.html").write_text("from a branch\n")
    # Over git's http.postBuffer (1 MB): the pack goes up in chunks, no Content-Length.
    (repo / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    assert git(env, repo, "checkout", "-qb", "feature").returncode == 0
    sha = commit_all(env, repo, "procfile")
    wrong = git(env, repo, "push", "roost", "feature")
    assert wrong.returncode != 0
    assert "To deploy feature, push it to main: `git push roost feature:main`" in wrong.stderr

    bad = git(env | {"ROOST_TOKEN": "not-a-token"}, repo, "push", "roost", "feature:main")
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    assert "invalid API token" in bad.stderr
    assert len(json.loads(ok(server, "builds", "proc", "--json"))) == 1
    assert releases(server, "proc") == []

    good = git(env, repo, "push", "roost", "feature:main")
    assert good.returncode == 0, good.stderr
    assert releases(server, "proc")[0]["commit"] == sha
    assert wait_for(lambda: served(server, "proc") == "from a branch\n", timeout=60)
    assert git(env, repo, "ls-remote", "roost", "main").stdout.startswith(sha)


def test_forge_webhooks_deploy_signed_pushes_only(server: Server, tmp_path: Path) -> None:
    env = git_env(server, tmp_path)
    ok(server, "apps", "create", "hooked")
    forge_root = tmp_path / "forge"
    work = tmp_path / "work"
    first = new_repo(env, work, {"Procfile": PROCFILE, "index.html": "one\n"})
    bare = forge_root / "team" / "hooked.git"
    assert git(env, tmp_path, "clone", "-q", "--bare", str(work), str(bare)).returncode == 0

    github = json.loads(ok(server, "apps", "hook", "hooked", "github", "--json"))
    assert github["url"] == f"{server.url}/hooks/github/hooked" and len(github["secret"]) > 30
    with forge(forge_root) as forge_url:
        clone_url = f"{forge_url}/team/hooked.git"

        def event(sha: str, branch: str = "main", key: str = "clone_url") -> bytes:
            where = "project" if key == "git_http_url" else "repository"
            return json.dumps({"ref": f"refs/heads/{branch}", "after": sha, "checkout_sha": sha,
                               where: {key: clone_url}}).encode()

        def deliver(provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            return httpx.post(f"{server.url}/hooks/{provider}/hooked", content=body,
                              headers={"Content-Type": "application/json", **headers},
                              timeout=30)

        unsigned = deliver("github", event(first), {"X-GitHub-Event": "push"})
        assert unsigned.status_code == 401 and "unsigned" in unsigned.text
        forged = deliver("github", event(first), sign("github", "guessed", event(first)))
        assert forged.status_code == 403
        other = deliver("github", event(first, "dev"), sign("github", github["secret"],
                                                             event(first, "dev")))
        assert other.status_code == 200 and "ignored" in other.text
        assert json.loads(ok(server, "builds", "hooked", "--json")) == []  # nothing deployed

        gone = event(first).replace(b"team/hooked.git", b"team/missing.git")
        lost = deliver("github", gone, sign("github", github["secret"], gone))
        assert lost.status_code == 202
        def builds() -> list[dict[str, str]]:
            return list(json.loads(ok(server, "builds", "hooked", "--json")))

        wait_for(lambda: builds() and builds()[0]["status"] == "failed", timeout=60)
        assert "cannot fetch" in builds()[0]["error"] and releases(server, "hooked") == []

        signed = deliver("github", event(first), sign("github", github["secret"], event(first)))
        assert signed.status_code == 202, signed.text
        wait_for(lambda: releases(server, "hooked") and
                 releases(server, "hooked")[0]["status"] == "succeeded", timeout=120)
        assert releases(server, "hooked")[0]["commit"] == first
        assert wait_for(lambda: served(server, "hooked") == "one\n", timeout=60)

        (work / "index.html").write_text("two\n")
        second = commit_all(env, work, "second")
        assert git(env, work, "push", "-q", str(bare), "main").returncode == 0
        gitlab = json.loads(ok(server, "apps", "hook", "hooked", "gitlab", "--json"))
        body = event(second, key="git_http_url")
        wrong = deliver("gitlab", body, {"X-Gitlab-Event": "Push Hook",
                                         "X-Gitlab-Token": github["secret"]})
        assert wrong.status_code == 403
        right = deliver("gitlab", body, sign("gitlab", gitlab["secret"], body))
        assert right.status_code == 202, right.text
        wait_for(lambda: releases(server, "hooked")[0]["commit"] == second, timeout=120)
        assert wait_for(lambda: served(server, "hooked") == "two\n", timeout=60)

    # The delivery is recorded once the deploy returns, which is after the new release
    # serves (the old one still drains then).
    wait_for(lambda: "deployed as v2" in ok(server, "apps", "hook", "hooked"), timeout=60)
    listed = ok(server, "apps", "hook", "hooked")
    assert "github" in listed and "gitlab" in listed


def test_the_build_streams_while_it_runs(server: Server, tmp_path: Path) -> None:
    """The pusher sees the build's lines as they are printed, not when the push ends."""
    env = git_env(server, tmp_path)
    ok(server, "apps", "create", "live")
    bp = tmp_path / "gated-bp"
    (bp / "bin").mkdir(parents=True)
    gate = shared(tmp_path) / "gate"  # builds see it read-only
    (bp / "bin" / "detect").write_text("#!/bin/sh\necho gated\n")
    (bp / "bin" / "compile").write_text(
        f"#!/bin/sh\necho compile started\nwhile [ ! -e {gate} ]; do sleep 0.05; done\n"
        "echo compile finished\n")
    (bp / "bin" / "release").write_text("#!/bin/sh\necho '--- {}'\n")
    for f in (bp / "bin").iterdir():
        f.chmod(0o755)
    ok(server, "buildpacks", "set", "live", str(bp))
    repo = tmp_path / "live"
    new_repo(env, repo, {"Procfile": PROCFILE, "index.html": "live\n"})
    assert cli(env, repo, "git", "remote", "live").returncode == 0
    push = subprocess.Popen(["git", "push", "roost", "main"], cwd=repo, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert push.stderr is not None
    watchdog = threading.Timer(90, gate.touch)  # a push that streams nothing fails, not hangs
    watchdog.start()
    seen = []
    for line in push.stderr:
        seen.append(line)
        if "compile started" in line:
            break
    assert not gate.exists(), "no build line reached the pusher while the build ran"
    assert push.poll() is None, "".join(seen)  # still building, and the line is already here
    gate.touch()
    watchdog.cancel()
    rest = push.stderr.read()
    assert push.wait(timeout=120) == 0, "".join(seen) + rest
    assert "remote: compile finished" in rest and "Released v1 of live" in rest
