"""The slug-runner's own steps, run here as a task runs them (no swarm needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from roost.runtime.swarm import runner

MANIFEST = ".roost/assets-manifest.json"


def test_the_platforms_files_replace_what_the_slug_planted_and_stay_in_the_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, outside = tmp_path / "app", tmp_path / "outside"
    app.mkdir()
    outside.mkdir()
    (app / ".roost").symlink_to(outside)  # a build's link out of the app
    manifest = json.dumps({"files": {"app.css": "https://cdn.example/app.1a2b.css"}}).encode()
    monkeypatch.setattr(runner, "APP", app)

    runner.put_files({MANIFEST: base64.b64encode(manifest).decode()})
    assert (app / MANIFEST).read_bytes() == manifest
    assert not (app / ".roost").is_symlink() and list(outside.iterdir()) == []

    (app / MANIFEST).unlink()
    (app / MANIFEST).symlink_to(outside / "target")  # a link at the file itself
    runner.put_files({MANIFEST: base64.b64encode(b"{}").decode()})
    assert (app / MANIFEST).read_bytes() == b"{}" and not (app / MANIFEST).is_symlink()
    assert list(outside.iterdir()) == []

    with pytest.raises(SystemExit, match="outside the app"):
        runner.put_files({"../escape.json": base64.b64encode(b"{}").decode()})
    assert not (tmp_path / "escape.json").exists()
