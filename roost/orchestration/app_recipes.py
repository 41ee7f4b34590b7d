"""A VM app's own recipes (``recipes/*.py`` in its source), applied on its host before a
release goes live: the deploy's ``recipes`` step, as Engine Yard ran custom recipes.

The step reads as its parts: find the release's recipes (their digest is kept in the
release's meta, so a config change or rollback with the same slug needs no slug read),
skip them when that digest already ran on this host, check that the host may take them,
run them in the build sandbox (:mod:`roost.hosts.apprecipes`) with their lines streamed
into the deploy's output, record the run in the hosts apply log, remember the digest.

Who may run recipes where. An app's recipe logs in as the host's SSH user: root on the
machine. So it runs only when:

- the sandbox is on (the recipe is the app's code; it never runs in Roost's process);
- no other app is placed on the host, and no other app's recipes ran there since the host
  was added (the apply log says so): the host is the app's alone; once they ran, no other
  app can be placed there (a removed and re-added host, after a rebuild, starts afresh);
- the host has no role whose recipes Roost ships (``docker-node``, ``postgres-server``):
  those machines serve the platform and other apps;
- the host has an SSH key of its own (not Roost's key, which opens every host added
  without ``--key``) that opens no other host Roost knows.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from pathlib import Path
from typing import Any

import paramiko
from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core import releases
from roost.errors import Conflict, RoostError, RuntimeFailure
from roost.hosts import apprecipes, keys, recipebook, runner
from roost.orchestration import hostflow
from roost.orchestration.platform import Platform
from roost.orchestration.steps import Deploy, Emit, Step
from roost.runtime import sandbox
from roost.store.base import utcnow
from roost.store.models import App
from roost.store.models.hosts import Host, HostApply


class RunAppRecipes(Step):
    """Apply a VM app's own recipes on its host before the release goes live."""

    name, does = "recipes", "apply the app's own recipes (recipes/*.py) on its VM host"
    failure = "the app's recipes failed"
    needs_release = True

    def skip_reason(self, d: Deploy) -> str:
        if d.platform.runtime is None:
            return "the runtime does not run here"
        return "" if _vm(d.platform, d.app) else "the app does not run on a VM"

    def run(self, d: Deploy) -> None:
        assert d.release is not None
        folder = d.build.build_dir / apprecipes.FOLDER if d.build is not None else None
        if folder is not None and not folder.is_symlink() and not folder.is_dir():
            _remember(d.platform, d.app, d.release, "")  # none: no need to read the slug
        apply(d.platform, d.app, d.release, d.actor, d.emit)

    def undo(self, d: Deploy, error: RoostError) -> None:
        if d.release is not None:
            with d.platform.sessions.begin() as session:
                releases.mark(session, releases.get(session, d.app, d.release), "failed",
                              str(error))


def _vm(ctx: Platform, app: str) -> dict[str, Any]:
    with ctx.sessions.begin() as session:
        settings = session.scalar(select(App.settings).where(App.name == app)) or {}
    return dict(settings.get("vm") or {}) if settings.get("runtime") == "vm" else {}


def apply(ctx: Platform, app: str, number: int, actor: str, emit: Emit) -> None:
    """Run release ``number``'s recipes on the app's host unless they ran there already;
    RuntimeFailure (the release does not go live) when one fails."""
    vm = _vm(ctx, app)
    host = hostflow.get(ctx, str(vm.get("host", "")))
    memo = vm.get("recipes") or {}
    with ctx.sessions.begin() as session:
        release = releases.get(session, app, number)
        known, slug_key = (release.meta or {}).get("recipes_digest"), release.slug_key
    if known == "" or not slug_key:
        return
    if known is not None and _ran(memo, known, host):
        return _unchanged(emit, host.name)
    recipes = _read(ctx, slug_key)
    _remember(ctx, app, number, recipes.digest)
    if not recipes.digest:
        return
    if _ran(memo, recipes.digest, host):
        return _unchanged(emit, host.name)
    _run(ctx, app, number, actor, host, recipes, emit)


def _remember(ctx: Platform, app: str, number: int, digest: str) -> None:
    """Keep the digest of release ``number``'s recipes ("": none) in its meta: a config
    change or rollback copies it, and needs no slug read."""
    with ctx.sessions.begin() as session:
        release = releases.get(session, app, number)
        release.meta = {**(release.meta or {}), "recipes_digest": digest}


def _ran(memo: dict[str, Any], digest: str, host: Host) -> bool:
    return memo.get("digest") == digest and memo.get("host") == host.name \
        and memo.get("fingerprint") == host.fingerprint


def _unchanged(emit: Emit, host: str) -> None:
    emit({"type": "step", "step": "recipes",
          "message": f"recipes/ unchanged since they last ran on {host}: not run again"})


def _read(ctx: Platform, slug_key: str) -> apprecipes.AppRecipes:
    with tempfile.TemporaryDirectory(prefix="roost-recipes-") as tmp:
        path = Path(tmp) / "slug.tar.gz"
        ctx.objects.download(slug_key, path)
        return apprecipes.from_slug(path)


def check_host(ctx: Platform, session: Session, app: str, host: Host) -> None:
    """Refuse (Conflict, saying what to do) unless ``host`` may run ``app``'s recipes."""
    fix = (f"app recipes get root on the host, so they run only on a VM dedicated to the "
           f"app: give {app} a host of its own (`roost apps create NAME --runtime vm --host "
           f"NEW`), or take recipes/ out of its source")
    if ctx.settings.sandbox != "on":
        raise Conflict(f"the recipes of {app} were not run: app recipes run only in the "
                       "build sandbox, and ROOST_SANDBOX is off; turn it on")
    others = sorted(a.name for a in session.scalars(select(App)) if a.name != app
                    and ((a.settings or {}).get("vm") or {}).get("host") == host.name)
    others += sorted(hostflow.recipes_ran_by(session, host) - {app, *others})
    if others:
        raise Conflict(f"{host.name} also carries {', '.join(others)}: {fix}",
                       code="host_not_dedicated")
    shared = sorted(set(host.roles) & set(recipebook.ROLE_PORTS))
    if shared:
        raise Conflict(f"{host.name} has the role {', '.join(shared)} (it serves the "
                       f"platform): {fix}", code="host_not_dedicated")
    if host.private_key_encrypted is None:
        raise Conflict(f"{host.name} is reached with Roost's own SSH key, which opens every "
                       f"host added without --key, so {app}'s recipes cannot have it: add the "
                       "host with a key of its own (`roost hosts add NAME URL --key FILE`)",
                       code="host_key_shared")
    mine = _public(ctx.cipher.decrypt(host.private_key_encrypted))
    for other in session.scalars(select(Host).where(Host.id != host.id)):
        if other.private_key_encrypted is not None and \
                _public(ctx.cipher.decrypt(other.private_key_encrypted)) == mine:
            raise Conflict(f"the SSH key of {host.name} also opens {other.name}, so "
                           f"{app}'s recipes cannot have it: give {host.name} a key of its "
                           "own", code="host_key_shared")


def _public(private: str) -> str:
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return str(kind.from_private_key(io.StringIO(private)).get_base64())
        except (paramiko.SSHException, ValueError):
            continue
    return private.strip()


def _spec(ctx: Platform, host: Host, app: str) -> runner.HostSpec:
    key = ctx.cipher.decrypt(host.private_key_encrypted or b"")
    data: dict[str, Any] = {"roost_app": app, "roost_ssh_port": host.port}
    if host.user != "root":
        data["_sudo"] = True
    return runner.HostSpec(name=host.name, address=host.address, port=host.port,
                           user=host.user, private_key=key,
                           host_key=keys.HostKey(host.host_key_type, host.host_key,
                                                 host.fingerprint),
                           roles=list(host.roles), data=data)


def _run(ctx: Platform, app: str, number: int, actor: str, host: Host,
         recipes: apprecipes.AppRecipes, emit: Emit) -> None:
    s = ctx.settings
    with ctx.sessions.begin() as session:  # checked and recorded at once: the host is taken
        check_host(ctx, session, app, host)
        record = HostApply(actor=actor, target=f"{hostflow.APP_TARGET}{app}", results={},
                           recipes=f"recipes/ of {app} v{number} ({recipes.digest[:12]})")
        session.add(record)
        session.flush()
        apply_id = record.id
    emit({"type": "step", "step": "recipes",
          "message": f"running {', '.join('recipes/' + n for n in recipes.order)} on "
                     f"{host.name}"})
    try:
        result = apprecipes.run(
            _spec(ctx, host, app), recipes, app=app,
            work=s.home / "builds" / f"recipes-{app}-{uuid.uuid4().hex[:12]}", home=s.home,
            identity=sandbox.identity("build", app, s.app_user or None),
            on_line=lambda line: emit({"type": "output", "line": line}),
            timeout=float(s.max_build_seconds))
    except RoostError as exc:
        result = {"failed": True, "connected": False, "operations": [], "error": str(exc)}
    if not result["connected"]:
        result["error"] = hostflow.explain(host.name, result["error"], host.fingerprint)
    with ctx.sessions.begin() as session:
        done = session.get(HostApply, apply_id)
        assert done is not None
        done.results = {host.name: apprecipes.summary(result)}
        done.status = "failed" if result["failed"] else "ok"
        done.finished_at = utcnow()
    if result["failed"]:
        bad = apprecipes.summary(result)["failed_operation"]
        raise RuntimeFailure(f"the recipes of {app} failed on {host.name}"
                             f"{f' at {bad!r}' if bad else ''}: "
                             f"{result['error'] or 'an operation failed'}; v{number} did not "
                             "go live (the running release stays)", code="app_recipe_failed")
    changed = sum(1 for o in result["operations"] if o["status"] == "changed")
    with ctx.sessions.begin() as session:
        row = session.scalar(select(App).where(App.name == app))
        assert row is not None
        vm = dict((row.settings or {}).get("vm") or {})
        vm["recipes"] = {"digest": recipes.digest, "host": host.name,
                         "fingerprint": host.fingerprint, "release": number}
        row.settings = {**(row.settings or {}), "vm": vm}
    emit({"type": "step", "step": "recipes",
          "message": f"recipes applied on {host.name} ({changed} changed, "
                     f"{len(result['operations']) - changed} already in place)"})
