"""The machinery of the deploy pipeline: what steps share (:class:`Deploy`), what a step is
(:class:`Step`), and running or planning a list of them. The list itself, and each step,
is in :mod:`roost.orchestration.pipeline`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from roost.core import releases
from roost.errors import RoostError
from roost.store.models import Release

if TYPE_CHECKING:
    from roost.build.service import BuildResult
    from roost.monitor.vulns import ScanReport
    from roost.orchestration.platform import Platform

log = logging.getLogger("roost.pipeline")
Emit = Callable[[dict[str, Any]], None]


@dataclass
class Deploy:
    """What the steps of one run share; each step fills in its part."""

    platform: Platform
    app: str
    actor: str
    emit: Emit
    source: Path | None = None
    source_version: str = ""
    commit_sha: str = ""  # the git commit of the source (a push or a forge webhook)
    origin: str = ""  # where the source came from, the build log's first line
    rollback: bool = False
    rollback_to: int | None = None
    app_id: int | None = None
    build_id: int | None = None
    build: BuildResult | None = None
    output_tail: list[str] = field(default_factory=list)
    addon_config: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    release: int | None = None
    scan: ScanReport | None = None

    def step(self, name: str, message: str) -> None:
        """Report progress of a step to the caller."""
        self.emit({"type": "step", "step": name, "message": message})


class Step(ABC):
    """One named step of the pipeline."""

    name: ClassVar[str]
    does: ClassVar[str]
    failure: ClassVar[str]
    fatal: ClassVar[bool] = True
    needs_release: ClassVar[bool] = False  # runs only once a release was cut

    def skip_reason(self, d: Deploy) -> str:
        """Why this step would not run for ``d`` ("" when it runs)."""
        return ""

    @abstractmethod
    def run(self, d: Deploy) -> None:
        """Do the step."""

    def undo(self, d: Deploy, error: RoostError) -> None:
        """Record a fatal failure of this step (the build, the release)."""
        return None


@dataclass(frozen=True)
class PlannedStep:
    """One line of a dry run."""

    name: str
    description: str
    runs: bool
    reason: str = ""


def plan(d: Deploy, steps: Sequence[Step]) -> list[PlannedStep]:
    """What running ``steps`` for ``d`` would do, changing nothing."""
    out = []
    for step in steps:
        reason = step.skip_reason(d)
        out.append(PlannedStep(step.name, step.does, not reason, reason))
    return out


def run(d: Deploy, steps: Sequence[Step]) -> Release | None:
    """Run ``steps`` in order; return the release made current (None when none was cut)."""
    try:
        for step in steps:
            if (step.needs_release and d.release is None) or step.skip_reason(d):
                continue
            try:
                step.run(d)
            except RoostError as exc:
                if step.fatal:
                    step.undo(d, exc)
                    raise
                log.warning("%s of %s: %s", step.failure, d.app, exc)
                d.step(step.name, f"{step.failure}: {exc}")
            except Exception:
                if step.fatal:
                    raise
                log.exception("%s of %s", step.failure, d.app)
                d.step(step.name, f"{step.failure} (see the server log)")
            if step.name == "activate":
                _mark_succeeded(d)
        if d.release is not None and d.platform.runtime is None:
            _mark_succeeded(d)
    finally:
        if d.build is not None:
            from roost.build.service import remove_build_dir

            remove_build_dir(d.build)
    if d.release is None:
        return None
    with d.platform.sessions.begin() as session:
        release = releases.get(session, d.app, d.release)
        session.expunge(release)
        return release


def _mark_succeeded(d: Deploy) -> None:
    assert d.release is not None
    with d.platform.sessions.begin() as session:
        releases.mark(session, releases.get(session, d.app, d.release), "succeeded")
