"""`roost addons` refuses malformed input itself, before any request: the CLI points at a
closed port, so a command that got as far as the network would say it cannot reach Roost.
The commands against a real server are tested end to end in tests/e2e."""

from __future__ import annotations

import pytest

from tests.cli.conftest import roost


@pytest.mark.parametrize("option", ["version", "=16", " =16"])
def test_option_without_key_and_value_is_refused(offline_env: dict[str, str],
                                                 option: str) -> None:
    run = roost(offline_env, "addons", "add", "shop", "postgres", "--option", "size=small",
                "--option", option)
    assert run.code == 1
    assert run.stderr == (f"error: cannot read --option {option!r}: write --option KEY=VALUE, "
                          "e.g. --option version=16\n")


def test_well_formed_options_go_to_the_server(offline_env: dict[str, str]) -> None:
    run = roost(offline_env, "addons", "add", "shop", "postgres", "--option", "version=16",
                "--option", "args=a=b", "--option", "empty=")
    assert run.code == 1 and "cannot reach Roost" in run.stderr


@pytest.mark.parametrize("confirm", [[], ["--confirm", "shp"], ["--confirm", ""]])
def test_remove_without_the_apps_name_is_refused(offline_env: dict[str, str],
                                                 confirm: list[str]) -> None:
    run = roost(offline_env, "addons", "remove", "shop", "postgres", *confirm)
    assert run.code == 1
    assert run.stderr.splitlines() == [
        "error: removing the postgres add-on of shop deletes its data: repeat the app's name "
        "to confirm: --confirm shop"]


def test_remove_with_the_apps_name_goes_to_the_server(offline_env: dict[str, str]) -> None:
    run = roost(offline_env, "addons", "remove", "shop", "postgres", "--confirm", "shop")
    assert run.code == 1 and "cannot reach Roost" in run.stderr


def test_bare_addons_lists(offline_env: dict[str, str]) -> None:
    """`roost addons APP` is `roost addons list APP`; both ask the server."""
    for args in (["addons", "shop"], ["addons", "shop", "--json"], ["addons", "list", "shop"]):
        run = roost(offline_env, *args)
        assert run.code == 1 and "cannot reach Roost" in run.stderr, args
    assert roost(offline_env, "addons").code == 2  # APP is required
