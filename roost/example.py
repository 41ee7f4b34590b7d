"""`roost up --example`: deploy the example Python app so a newcomer sees Roost work."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from roost.core import apps
from roost.errors import RoostError
from roost.orchestration import pipeline
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.example")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "python-app"
NAME = "example"


def deploy_example(ctx: Platform, announce: Callable[[str], None]) -> None:
    """Create the ``example`` app if needed and deploy examples/python-app to it."""
    from roost.build.archive import pack_source

    if not EXAMPLE.is_dir():
        announce(f"(no example app at {EXAMPLE}; skipping)")
        return
    with ctx.sessions.begin() as session:
        if not any(a.name == NAME for a in apps.list_all(session)):
            from roost.core import telemetry

            created = apps.create(session, NAME, "roost")
            telemetry.provision(session, ctx.cipher, created, ctx.settings.api_url)
    announce("Deploying the example app (examples/python-app)…")
    with tempfile.TemporaryDirectory(prefix="roost-example-") as tmp:
        archive = pack_source(EXAMPLE, Path(tmp) / "source.tar.gz")
        try:
            release = pipeline.deploy_source(ctx, NAME, archive, "roost", lambda _e: None)
        except RoostError as exc:
            announce(f"The example app did not deploy: {exc}")
            return
    s = ctx.settings
    host, _, port = s.router_listen.rpartition(":")
    announce(
        f"\nThe example app is live (v{release.number}):\n"
        f"  open   http://{NAME}.{s.base_domain}:{port}/   (browsers resolve *.localhost)\n"
        f"  or     curl -H 'Host: {NAME}.{s.base_domain}' http://{host}:{port}/\n"
        f"  status http://{s.listen}/status/{NAME}\n"
        f"  then   roost apps, roost ps {NAME}, roost logs {NAME} -f, roost perf {NAME}\n")


def start_in_background(ctx: Platform, announce: Callable[[str], None]) -> None:
    """Deploy the example without holding up the control plane."""
    threading.Thread(target=deploy_example, args=(ctx, announce), daemon=True,
                     name="example-deploy").start()
