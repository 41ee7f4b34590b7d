"""One `git push`: which ref it may update, and the deploy it runs from the pre-receive hook.

Each push gets a private unix socket (in a fresh directory under ``ROOST_HOME/git/run``,
inside the 0700 ``ROOST_HOME/git``), bound to the app and the authenticated user before git
starts; the hook (:mod:`roost.gitserve.hook`) reports the ref updates there. The deploy is
the same pipeline `roost deploy` runs; its output goes back to the hook line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost.errors import RoostError
from roost.gitserve.repos import DEPLOY_BRANCHES, git_env, root

if TYPE_CHECKING:
    from roost.orchestration.platform import Platform

log = logging.getLogger("roost.gitserve")
ZERO = "0" * 40
MAX_MESSAGE = 1024 * 1024
QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                   "GIT_QUARANTINE_PATH")


@dataclass(frozen=True)
class Target:
    """The commit a push deploys, and the branch it arrived on."""

    sha: str
    branch: str


def choose_target(updates: list[list[str]]) -> Target | str:
    """The commit to deploy from the hook's ref updates, or why the push is refused."""
    branches = []
    for update in updates:
        if len(update) != 3:
            return "git sent a ref update Roost cannot read; push again"
        old, new, ref = update
        if not ref.startswith("refs/heads/"):
            return (f"{ref} was not pushed: Roost keeps only the branch it deploys; "
                    "push it with `git push roost main`")
        branch = ref.removeprefix("refs/heads/")
        if branch not in DEPLOY_BRANCHES:
            return (f"pushing {branch} does not deploy: Roost deploys main (or master). "
                    f"To deploy {branch}, push it to main: `git push roost {branch}:main`")
        if new == ZERO:
            return f"deleting {branch} is not allowed: it is the deployed branch"
        branches.append(Target(new, branch))
    if len(branches) != 1:
        return "push one branch at a time: main or master (`git push roost main`)"
    return branches[0]


def quarantine_env(repo: Path, env: dict[str, Any]) -> dict[str, str]:
    """The hook's object-directory variables, kept only when they point inside ``repo``."""
    base = os.path.realpath(repo)
    out = {}
    for name in QUARANTINE_VARS:
        value = str(env.get(name) or "")
        parts = [p for p in value.split(":") if p]
        for part in parts:
            full = os.path.realpath(os.path.join(base, part))
            if full != base and not full.startswith(base + os.sep):
                raise RoostError(f"{name} points outside the repository; push refused")
        if value:
            out[name] = ":".join(os.path.realpath(os.path.join(base, p)) for p in parts)
    return out


def archive(home: Path, repo: Path, sha: str, out: Path, extra: dict[str, str]) -> None:
    """Write the commit's tree as a .tar.gz (``git archive``: tracked files only)."""
    result = subprocess.run(["git", "archive", "--format=tar.gz", "-o", str(out), sha],
                            env=git_env(home, {"GIT_DIR": str(repo), **extra}),
                            capture_output=True, timeout=600)
    if result.returncode != 0:
        raise RoostError(f"cannot read commit {sha[:12]}: "
                         f"{result.stderr.decode(errors='replace').strip()[-300:]}")


def describe(event: dict[str, Any]) -> str | None:
    """A pipeline event as the line the pusher sees (as `roost deploy` prints it)."""
    kind = event.get("type")
    if kind == "output":
        return str(event.get("line", ""))
    if kind == "step":
        return f"-----> {event.get('message', '')}"
    return None


def _remove_stale(run_dir: Path, max_age: float = 86400) -> None:
    """Remove what pushes cut off by a stopped Roost left behind (no push lasts a day)."""
    import time

    for entry in run_dir.iterdir():
        with contextlib.suppress(OSError):
            if time.time() - entry.lstat().st_mtime > max_age:
                shutil.rmtree(entry, ignore_errors=True)


class PushChannel:
    """The private socket of one push to one app by one user."""

    def __init__(self, platform: Platform, app: str, actor: str, repo: Path) -> None:
        self.platform, self.app, self.actor, self.repo = platform, app, actor, repo
        self.dir = root(platform.settings.home) / "run" / secrets.token_hex(8)
        self.socket_path = self.dir / "s"
        self._server: asyncio.AbstractServer | None = None
        self._used = False
        self.exit_code = 1  # the hook's status: 0 lets git update the ref

    @property
    def env(self) -> dict[str, str]:
        """What the hook needs to find this push's socket."""
        return {"ROOST_PUSH_SOCKET": str(self.socket_path)}

    async def open(self) -> None:
        """Create the directory and listen."""
        if len(str(self.socket_path)) > 100:
            raise RoostError(f"ROOST_HOME {self.platform.settings.home} is too long a path for "
                             "a unix socket; choose a shorter ROOST_HOME")
        self.dir.parent.mkdir(mode=0o700, exist_ok=True)
        _remove_stale(self.dir.parent)
        self.dir.mkdir(mode=0o700)
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.socket_path),
                                                       limit=MAX_MESSAGE)

    async def close(self) -> None:
        """Stop listening and remove the directory (and any leftover archive)."""
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(message: dict[str, Any]) -> None:
            with contextlib.suppress(ConnectionError):
                writer.write(json.dumps(message).encode() + b"\n")
                await writer.drain()

        try:
            if self._used:
                await send({"line": "!     one report per push", "exit": 1})
                return
            self._used = True
            request = json.loads(await reader.readline())
            async for line in self._deploy(request):
                await send({"line": line})
            await send({"exit": self.exit_code})
        except (ValueError, asyncio.LimitOverrunError) as exc:
            await send({"line": f"!     bad report from the hook: {exc}"})
            await send({"exit": 1})
        finally:
            with contextlib.suppress(ConnectionError):
                writer.close()

    async def _deploy(self, request: dict[str, Any]) -> AsyncIterator[str]:
        """Lines for the pusher; ``exit_code`` says at the end whether the push may land."""
        target = choose_target(request.get("updates") or [])
        if isinstance(target, str):
            yield f"!     {target}"
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        outcome: dict[str, Any] = {"code": 1}

        def put(line: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, line)

        def work() -> None:
            try:
                outcome["code"] = self._run(target, request.get("env") or {}, put)
            except Exception as exc:  # report, never leave the pusher waiting
                log.exception("push deploy of %s crashed", self.app)
                put(f"!     deploy crashed: {exc!r}")
            finally:
                put(None)

        threading.Thread(target=work, name=f"push-{self.app}", daemon=True).start()
        while (line := await queue.get()) is not None:
            yield line
        self.exit_code = int(outcome["code"])

    def _run(self, target: Target, hook_env: dict[str, Any], put: Any) -> int:
        """Archive the pushed commit and deploy it; return the hook's exit status."""
        from roost.orchestration import pipeline

        home, short = self.platform.settings.home, target.sha[:7]
        put(f"-----> Deploying {self.app} from {target.branch} ({short}) for {self.actor}")
        source = self.dir / "source.tar.gz"
        try:
            archive(home, self.repo, target.sha, source, quarantine_env(self.repo, hook_env))

            def emit(event: dict[str, Any]) -> None:
                line = describe(event)
                if line is not None:
                    put(line)

            release = pipeline.deploy_source(self.platform, self.app, source, self.actor, emit,
                                             source_version=target.sha, commit_sha=target.sha)
        except RoostError as exc:  # the build's output was streamed already
            step = getattr(exc, "step", "")
            put(f"!     deploy of {self.app} failed{f' at step {step}' if step else ''}: {exc}")
            put(f"!     push rejected: {self.app} keeps serving its current release")
            return 1
        finally:
            source.unlink(missing_ok=True)
        s = self.platform.settings
        port = s.router_listen.rpartition(":")[2]
        put(f"-----> Released v{release.number} of {self.app} ({short}): "
            f"http://{self.app}.{s.base_domain}:{port}/")
        return 0
