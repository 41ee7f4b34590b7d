"""Forge webhooks of an app: their secrets (encrypted at rest), and the deploy a signed push
starts: fetch the pushed commit into the app's repository, then the usual pipeline."""

from __future__ import annotations

import logging
import secrets
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from roost.core import apps, audit
from roost.errors import NotFound, RoostError
from roost.gitserve import repos
from roost.gitserve.forge import PushEvent, check_branch, check_provider
from roost.gitserve.pushes import archive
from roost.monitor.uptime import addresses
from roost.store.base import utcnow
from roost.store.models.forge import ForgeHook

if TYPE_CHECKING:
    from roost.orchestration.platform import Platform

log = logging.getLogger("roost.gitserve")
FETCH_SECONDS = 600


@dataclass(frozen=True)
class HookInfo:
    """A webhook as the API shows it (the secret only when it was just made)."""

    provider: str
    branch: str
    path: str
    secret: str = ""
    last_delivery_at: str = ""
    last_result: str = ""


def path_of(app: str, provider: str) -> str:
    """The webhook's path on the control plane."""
    return f"/hooks/{provider}/{app}"


def configure(platform: Platform, app: str, provider: str, branch: str, actor: str) -> HookInfo:
    """Create the app's webhook for ``provider`` or give it a new secret; return the secret."""
    check_provider(provider)
    check_branch(branch)
    secret = secrets.token_urlsafe(32)
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        hook = session.scalar(select(ForgeHook).where(ForgeHook.app_id == found.id,
                                                      ForgeHook.provider == provider))
        if hook is None:
            hook = ForgeHook(app_id=found.id, provider=provider)
            session.add(hook)
        hook.branch = branch
        hook.secret_encrypted = platform.cipher.encrypt(secret)
        audit.record(session, actor, "hooks.set", f"{provider} webhook deploys {branch}",
                     app=app, provider=provider)
    return HookInfo(provider, branch, path_of(app, provider), secret)


def list_hooks(platform: Platform, app: str) -> list[HookInfo]:
    """The app's webhooks, without their secrets."""
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        rows = session.scalars(select(ForgeHook).where(ForgeHook.app_id == found.id)
                               .order_by(ForgeHook.provider))
        return [HookInfo(h.provider, h.branch, path_of(app, h.provider),
                         last_delivery_at=h.last_delivery_at.isoformat()
                         if h.last_delivery_at else "", last_result=h.last_result)
                for h in rows]


def remove(platform: Platform, app: str, provider: str, actor: str) -> None:
    """Delete the app's webhook for ``provider``."""
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        hook = session.scalar(select(ForgeHook).where(ForgeHook.app_id == found.id,
                                                      ForgeHook.provider == provider))
        if hook is None:
            raise NotFound(f"{app} has no {provider} webhook; `roost apps hook {app} "
                           f"{provider}` makes one")
        session.delete(hook)
        audit.record(session, actor, "hooks.remove", f"removed the {provider} webhook",
                     app=app, provider=provider)


@dataclass(frozen=True)
class Receiver:
    """What checking a delivery needs: the secret, the branch, where to record the result."""

    hook_id: int
    app_id: int
    secret: str
    branch: str


def receiver(platform: Platform, app: str, provider: str) -> Receiver:
    """The app's webhook for ``provider``; NotFound when there is none."""
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        hook = session.scalar(select(ForgeHook).where(ForgeHook.app_id == found.id,
                                                      ForgeHook.provider == provider))
        if hook is None:
            raise NotFound(f"no {provider} webhook for {app}: `roost apps hook {app} "
                           f"{provider}` makes one")
        return Receiver(hook.id, found.id, platform.cipher.decrypt(hook.secret_encrypted),
                        hook.branch)


def record(platform: Platform, hook_id: int, result: str) -> None:
    """Note a delivery's outcome on the webhook (`roost apps hook` lists it)."""
    with platform.sessions.begin() as session:
        hook = session.get(ForgeHook, hook_id)
        if hook is not None:
            hook.last_delivery_at = utcnow()
            hook.last_result = result[:500]


def _git(platform: Platform, *args: str) -> subprocess.CompletedProcess[bytes]:
    home = platform.settings.home
    # No redirects: the address checked is the address fetched from.
    return subprocess.run(["git", "-c", "http.followRedirects=false", *args],
                          env=repos.git_env(home), capture_output=True,
                          timeout=FETCH_SECONDS, cwd=repos.root(home))


def shown(url: str) -> str:
    """A repository URL without any credentials in it, for messages and records."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def check_source(platform: Platform, clone_url: str) -> None:
    """Refuse a repository URL on a link-local or cloud metadata address (as monitor targets
    are, and by the same setting): a hook's payload must not make Roost fetch the host's
    cloud credentials. Private and loopback addresses stay allowed (a forge on the LAN)."""
    if platform.settings.monitor_allow_private:
        return
    host = urlsplit(clone_url).hostname or ""
    try:
        addresses.check(host, addresses.resolve(host))
    except addresses.RefusedAddress as exc:
        raise RoostError(f"refused to fetch from {shown(clone_url)}: "
                         f"{exc.message.removeprefix('monitor target ')}") from exc


def fetch(platform: Platform, app_id: int, event: PushEvent) -> None:
    """Fetch the pushed commit (by its branch, else by its id) into the app's repository."""
    check_source(platform, event.clone_url)
    repo = str(repos.ensure_repo(platform.settings.home, app_id))
    fetched = _git(platform, "--git-dir", repo, "fetch", "--quiet", "--no-tags",
                   "--no-write-fetch-head", "--end-of-options", event.clone_url,
                   f"+refs/heads/{event.branch}:refs/roost/forge")
    have = _git(platform, "--git-dir", repo, "cat-file", "-e", f"{event.sha}^{{commit}}")
    if have.returncode != 0:  # the branch moved on since: ask for the commit itself
        fetched = _git(platform, "--git-dir", repo, "fetch", "--quiet", "--no-tags",
                       "--no-write-fetch-head", "--end-of-options", event.clone_url, event.sha)
        have = _git(platform, "--git-dir", repo, "cat-file", "-e", f"{event.sha}^{{commit}}")
    if have.returncode != 0:
        lines = fetched.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1].replace(event.clone_url, shown(event.clone_url)) if lines else \
            "the commit is not there"
        raise RoostError(f"cannot fetch {event.sha[:12]} from {shown(event.clone_url)}: "
                         f"{reason}")


def start_deploy(platform: Platform, app: str, app_id: int, provider: str, hook_id: int,
                 event: PushEvent) -> None:
    """Fetch and deploy ``event`` in the background; the caller holds the deploy lock."""
    threading.Thread(target=_deploy, args=(platform, app, app_id, provider, hook_id, event),
                     name=f"hook-{app}", daemon=True).start()


def _deploy(platform: Platform, app: str, app_id: int, provider: str, hook_id: int,
            event: PushEvent) -> None:
    from roost.orchestration import deploys, pipeline

    actor, short = f"{provider} webhook", event.sha[:7]
    home = platform.settings.home
    with tempfile.TemporaryDirectory(prefix="hook-", dir=repos.root(home)) as tmp:
        source = Path(tmp) / "source.tar.gz"
        step = "fetch"
        try:  # until the pipeline takes over the deploy lock, it is ours to drop
            fetch(platform, app_id, event)
            step = "archive"
            repo = repos.ensure_repo(home, app_id)
            archive(home, repo, event.sha, source, {})
        except Exception as exc:
            try:
                build_id = deploys.start_build(platform, app_id, actor, 0, event.sha)
                deploys.finish_build(platform, build_id, "failed", error=str(exc), step=step)
                record(platform, hook_id, f"{short}: {step} failed: {exc}")
            finally:
                deploys.release_lock(platform, app_id)
            log.warning("webhook deploy of %s: %s failed: %s", app, step, exc)
            return

        origin = (f"Fetched {short} (branch {event.branch}) from "
                  f"{shown(event.clone_url)} for a {provider} push")

        def emit(event_: dict[str, Any]) -> None:
            if event_.get("type") == "step":
                log.info("webhook deploy of %s: %s", app, event_.get("message"))

        try:  # the pipeline releases the lock, whatever happens
            release = pipeline.deploy_source(platform, app, source, actor, emit,
                                             source_version=event.sha, locked_app_id=app_id,
                                             commit_sha=event.sha, origin=origin)
        except Exception as exc:
            record(platform, hook_id, f"{short}: deploy failed: {exc}")
            log.warning("webhook deploy of %s failed: %s", app, exc)
            return
    _git(platform, "--git-dir", str(repo), "update-ref", "refs/heads/main", event.sha)
    record(platform, hook_id, f"{short}: deployed as v{release.number}")
