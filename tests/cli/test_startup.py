"""The CLI starts quickly: `roost --help` imports no command, a command imports only what
it uses, and nothing of the server side (store, API, SQLAlchemy, FastAPI) is imported to
build the command tree. bench/cli_startup.py measures the time; this checks the cause."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from roost.cli.main import COMMANDS, load
from tests.cli.conftest import roost

SERVER_SIDE = {"sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic"}
SLOW_TO_IMPORT = {"pydantic", "rich", "httpx", "httpcore"}
COMMAND_MODULES = {f"roost.cli.{target.partition(':')[0]}" for target, _, _ in COMMANDS.values()}


def roost_modules(modules: set[str]) -> set[str]:
    """The roost modules among ``modules``, except the CLI's own and the credentials file's."""
    return {m for m in modules if m.startswith("roost.")
            and m.partition(".")[2].partition(".")[0] not in ("cli", "credentials")}


def test_help_lists_every_command_and_imports_none(offline_env: dict[str, str]) -> None:
    run = roost(offline_env, "--help")
    assert run.code == 0, run.stderr
    listed = [line.split()[0] for line in run.stdout.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == list(COMMANDS)
    assert "addons" in listed
    assert not run.modules & (COMMAND_MODULES | SERVER_SIDE | SLOW_TO_IMPORT)
    assert not roost_modules(run.modules)


def test_apps_imports_only_its_module_when_the_server_is_down(offline_env: dict[str, str]
                                                              ) -> None:
    run = roost(offline_env, "apps")
    assert run.code == 1
    assert run.stderr.startswith("error: cannot reach Roost at http://127.0.0.1:")
    assert run.modules & COMMAND_MODULES == {"roost.cli.apps"}
    assert not run.modules & (SERVER_SIDE | SLOW_TO_IMPORT)
    assert not roost_modules(run.modules)


def test_typed_options_are_read_without_pydantic(offline_env: dict[str, str]) -> None:
    """int, float, list and Path values reach the command (which then tries the server)."""
    run = roost(offline_env, "monitors", "add", "shop", "--url", "https://shop.example",
                "--interval", "15", "--confirm", "3", "--header", "A: b", "--header", "C: d")
    assert run.code == 1 and "cannot reach Roost" in run.stderr, run.stderr
    deploy = roost(offline_env, "deploy", "--dry-run", "shop", str(Path(__file__).parent))
    assert deploy.code == 1 and "cannot reach Roost" in deploy.stderr, deploy.stderr
    for done in (run, deploy):
        assert not done.modules & (SERVER_SIDE | SLOW_TO_IMPORT)


def test_a_bad_number_is_refused_with_the_parameter_named(offline_env: dict[str, str]) -> None:
    run = roost(offline_env, "monitors", "info", "abc")
    assert run.code == 2
    assert "Invalid value for 'ID': 'abc' is not a valid integer." in run.stderr
    interval = roost(offline_env, "monitors", "add", "shop", "--url", "https://x",
                     "--interval", "often")
    assert interval.code == 2 and "'often' is not a valid number." in interval.stderr


def test_building_every_command_imports_nothing_of_the_server() -> None:
    """Load the whole command tree in a fresh interpreter; the commands that run server
    code locally (`roost up`, `vulns scan`) import it inside the command, not before."""
    script = ("import sys\nfrom roost.cli.main import COMMANDS, load\n"
              "for name in COMMANDS: load(name)\nprint('\\n'.join(sorted(sys.modules)))")
    modules = set(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                 text=True, check=True).stdout.split())
    assert modules >= COMMAND_MODULES
    assert not modules & (SERVER_SIDE | SLOW_TO_IMPORT)
    assert not roost_modules(modules)


def test_each_command_is_listed_with_its_own_help() -> None:
    """`roost --help` shows the registry's line; it must be the command's own first line."""
    for name, (_, listed, _) in COMMANDS.items():
        own = inspect.cleandoc(load(name).help or "").split("\n\n")[0].replace("\n", " ")
        assert own == listed, f"roost {name}: COMMANDS says {listed!r}, the command {own!r}"


def test_a_mistyped_command_is_refused_with_the_closest_names(offline_env: dict[str, str]
                                                              ) -> None:
    run = roost(offline_env, "addon", "shop")
    assert run.code == 2
    assert "No such command 'addon'. Did you mean 'addons'?" in run.stderr
    assert not run.modules & COMMAND_MODULES
