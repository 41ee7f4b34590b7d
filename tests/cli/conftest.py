"""Run the `roost` command in a fresh interpreter and see what it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Runs the CLI's entry point as the console script does, then prints the names of the
# modules it imported on a last line of its own.
PROBE = """
import json, sys
sys.argv = ["roost", *sys.argv[1:]]
from roost.cli.main import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
sys.stdout.flush()
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


@dataclass
class Run:
    """One `roost` run: exit code, output and the modules it imported."""

    code: int
    stdout: str
    stderr: str
    modules: set[str]


@pytest.fixture
def offline_env(tmp_path: Path, closed_port: int) -> dict[str, str]:
    """An environment that points the CLI at a closed port on 127.0.0.1: a command that
    sends a request fails to connect, one refused locally never gets that far."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(tmp_path), "ROOST_API_URL": f"http://127.0.0.1:{closed_port}",
                "ROOST_TOKEN": "t", "NO_COLOR": "1"})
    return env


def roost(env: dict[str, str], *args: str) -> Run:
    """Run `roost ARGS` in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True,
                            text=True, timeout=60)
    out, found, modules = result.stdout.rpartition("\nMODULES ")
    assert found, f"roost {' '.join(args)} crashed:\n{result.stderr}"
    return Run(result.returncode, out, result.stderr, set(json.loads(modules)))
