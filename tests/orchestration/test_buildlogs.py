"""Each build's output kept in a file of its own, read back from any offset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roost.orchestration import buildlogs


def test_output_and_steps_are_kept_and_passed_on(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    emit = buildlogs.tee(tmp_path, "web", 7, seen.append)
    emit({"type": "step", "step": "build", "message": "build #7 started"})
    emit({"type": "output", "line": "compiling"})
    emit({"type": "result", "release": 3})  # not a line of the build's output
    assert len(seen) == 3
    lines, offset = buildlogs.read_from(tmp_path, "web", 7, 0)
    assert lines == ["-----> build #7 started", "compiling"]
    assert buildlogs.read_from(tmp_path, "web", 7, offset) == ([], offset)
    emit({"type": "output", "line": "done"})
    assert buildlogs.read_from(tmp_path, "web", 7, offset)[0] == ["done"]
    assert oct(buildlogs.path(tmp_path, "web", 7).stat().st_mode & 0o777) == "0o600"


def test_a_half_written_line_waits_and_a_missing_log_is_empty(tmp_path: Path) -> None:
    target = buildlogs.path(tmp_path, "web", 1)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"whole\nhal")
    assert buildlogs.read_from(tmp_path, "web", 1, 0) == (["whole"], 6)
    assert buildlogs.read_from(tmp_path, "web", 2, 0) == ([], 0)


def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = buildlogs.path(tmp_path, "web", 5)
    target.parent.mkdir(parents=True)
    target.symlink_to(victim)
    emit = buildlogs.tee(tmp_path, "web", 5, lambda _e: None)
    emit({"type": "output", "line": "overwrite?"})  # the build goes on; nothing is written
    assert victim.read_text() == "precious\n"
    assert buildlogs.read_from(tmp_path, "web", 5, 0) == ([], 0)


def test_each_app_keeps_its_newest_logs(tmp_path: Path) -> None:
    for build in range(1, buildlogs.KEEP + 6):
        buildlogs.tee(tmp_path, "web", build, lambda _e: None)({"type": "output", "line": "x"})
    kept = sorted(int(p.stem) for p in buildlogs.path(tmp_path, "web", 1).parent.iterdir())
    assert kept == list(range(6, buildlogs.KEEP + 6))
