"""Fixtures for build tests: a store, work/cache roots and a build runner that records output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from roost.build import BuildLimits, BuildResult, run_build
from roost.objectstore import ObjectStore, open_store
from tests.build.helpers import make_source


@dataclass
class Builder:
    """Runs builds of small made-up apps into one store, keeping every output line."""

    root: Path
    store: ObjectStore
    lines: list[str] = field(default_factory=list)
    count: int = 0

    def __call__(self, files: dict[str, str], buildpacks: list[str] | None = None,
                 config: dict[str, str] | None = None, app: str = "app1",
                 on_output: Callable[[str], None] | None = None,
                 **limits: Any) -> BuildResult:
        self.count += 1
        src = make_source(self.root / f"src{self.count}.tar.gz", files)
        return run_build(src, app, config or {}, buildpacks or [], self.store,
                         self.root / "work", self.root / "cache",
                         on_output or self.lines.append, BuildLimits(**limits))


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    """A Builder on a fresh file:// store."""
    return Builder(tmp_path, open_store(f"file://{tmp_path / 'store'}"))
