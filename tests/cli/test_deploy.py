"""`roost deploy --dry-run` and its refusals, checked before anything is packed or sent
(the CLI points at a closed port: getting as far as the network says so)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import roost


def test_json_without_dry_run_is_refused(offline_env: dict[str, str], tmp_path: Path) -> None:
    run = roost(offline_env, "deploy", "shop", str(tmp_path), "--json")
    assert run.code == 1
    assert run.stderr == "error: --json goes with --dry-run (a deploy streams its build output)\n"


def test_dry_run_of_a_missing_directory_is_refused(offline_env: dict[str, str],
                                                    tmp_path: Path) -> None:
    run = roost(offline_env, "deploy", "--dry-run", "shop", str(tmp_path / "nope"))
    assert run.code == 1
    assert "nope is not a directory" in run.stderr


def test_dry_run_packs_nothing(offline_env: dict[str, str], tmp_path: Path) -> None:
    """A dry run asks the server for the plan and never imports the packer."""
    (tmp_path / "app.py").write_text("print('hi')\n")
    run = roost(offline_env, "deploy", "--dry-run", "shop", str(tmp_path), "--json")
    assert run.code == 1 and "cannot reach Roost" in run.stderr
    assert "roost.build.archive" not in run.modules
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]
