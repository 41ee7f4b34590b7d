"""Build the example apps with the real built-in buildpacks, then run each slug by hand.

The Python builds install gunicorn offline: a wheel is repacked from the test venv's own
installed copy into a local wheelhouse that the build reaches through PIP_* config vars.
"""

from __future__ import annotations

import importlib.metadata
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.build import (
    BuildLimits,
    BuildResult,
    pack_source,
    remove_build_dir,
    run_build,
    unpack_slug,
)
from roost.errors import BuildError
from roost.objectstore import ObjectStore, open_store
from roost.runtime import spawn
from tests.build.helpers import make_source
from tests.conftest import free_port, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    """A file:// store for slugs."""
    return open_store(f"file://{tmp_path / 'store'}")


def start_web(slug_dir: Path, command: str, port: int) -> subprocess.Popen[bytes]:
    """Run a Procfile command the way the runtime will: HOME at the slug, .profile.d sourced."""
    script = f'cd "$HOME" && for f in .profile.d/*.sh; do . "$f"; done; exec {command}'
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(slug_dir), "PORT": str(port),
           "LANG": "C.UTF-8"}
    return subprocess.Popen(["bash", "-c", script], env=env, cwd=slug_dir,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started by a test, stopped (by process group) afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:  # by group, never one that took a reaped leader's number since
        spawn.signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            spawn.signal_group(proc, signal.SIGKILL)
            proc.wait()


def healthy(port: int) -> bool:
    """Whether GET /health answers 200 with status ok."""
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and resp.json() == {"status": "ok"}


def build_example(name: str, store: ObjectStore, tmp_path: Path, config: dict[str, str],
                  lines: list[str], source: Path | None = None) -> BuildResult:
    """Pack an example like the CLI does, then build it."""
    src = source or pack_source(EXAMPLES / name, tmp_path / f"{name}.tgz")
    wheels = (config["PIP_FIND_LINKS"],) if "PIP_FIND_LINKS" in config else ()
    return run_build(src, name, config, [], store, tmp_path / "work", tmp_path / "cache",
                     lines.append, BuildLimits(timeout_seconds=240, sandbox_paths=wheels))


def test_python_example_slug_runs_from_another_directory(
        store: ObjectStore, tmp_path: Path, wheelhouse: dict[str, str],
        running: list[subprocess.Popen[bytes]]) -> None:
    lines: list[str] = []
    cold = build_example("python-app", store, tmp_path, wheelhouse, lines)
    assert cold.buildpacks_used == ["python"] and "requirements.txt" in cold.lockfiles
    assert cold.process_types["web"].startswith("gunicorn app:app")
    assert any("Installing dependencies" in ln for ln in lines)
    # Warm rebuild after a source change: dependencies come from the cache.
    changed = tmp_path / "changed"
    subprocess.run(["cp", "-r", str(EXAMPLES / "python-app"), str(changed)], check=True)
    (changed / "app.py").write_text((changed / "app.py").read_text() + "\n# changed\n")
    lines.clear()
    warm = build_example("python-app", store, tmp_path, wheelhouse, lines,
                         pack_source(changed, tmp_path / "changed.tgz"))
    assert any("reusing the cached environment" in ln for ln in lines)
    build_path = str(warm.build_dir)
    remove_build_dir(cold)
    remove_build_dir(warm)  # the slug must not depend on the directory it was built in
    slug_dir = unpack_slug(store, warm.slug_key, tmp_path / "releases" / "v2", tmp_path / "dl")
    assert build_path not in (slug_dir / ".venv" / "bin" / "gunicorn").read_text()
    assert "# changed" in (slug_dir / "app.py").read_text()
    assert not (slug_dir / "README.md").exists()  # listed in the example's .slugignore
    port = free_port()
    running.append(start_web(slug_dir, warm.process_types["web"], port))
    wait_for(lambda: healthy(port), timeout=30)
    css = httpx.get(f"http://127.0.0.1:{port}/static/app.css", timeout=5)
    assert css.status_code == 200 and "font-family" in css.text


def test_node_example_slug_runs_from_another_directory(
        store: ObjectStore, tmp_path: Path, running: list[subprocess.Popen[bytes]]) -> None:
    lines: list[str] = []
    result = build_example("node-app", store, tmp_path, {}, lines)
    assert result.buildpacks_used == ["nodejs"]
    assert result.lockfiles == ["package-lock.json"]
    assert result.process_types == {"web": "node server.js"}
    remove_build_dir(result)
    slug_dir = unpack_slug(store, result.slug_key, tmp_path / "releases" / "v1", tmp_path / "dl")
    assert (slug_dir / ".profile.d" / "nodejs.sh").exists()
    port = free_port()
    running.append(start_web(slug_dir, result.process_types["web"], port))
    wait_for(lambda: healthy(port), timeout=30)


GUNICORN = f"gunicorn=={importlib.metadata.version('gunicorn')}"
LOCKS = {
    "Pipfile.lock": json.dumps({"_meta": {}, "default": {"gunicorn": {
        "version": "==" + GUNICORN.split("==")[1]}}, "develop": {}}),
    "uv.lock": (
        'version = 1\n[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\n'
        'dependencies = [{ name = "gunicorn" }]\n\n[[package]]\nname = "gunicorn"\n'
        f'version = "{GUNICORN.split("==")[1]}"\n'
        'source = { registry = "https://pypi.org/simple" }\n'),
    "pyproject.toml": f'[project]\nname = "app"\nversion = "0.1"\ndependencies = ["{GUNICORN}"]\n',
}


@pytest.mark.parametrize("lockfile", sorted(LOCKS))
def test_python_dependency_sources(store: ObjectStore, tmp_path: Path,
                                   wheelhouse: dict[str, str], lockfile: str) -> None:
    files = {lockfile: LOCKS[lockfile], "Procfile": "web: gunicorn app:app\n"}
    if lockfile != "pyproject.toml":
        files["pyproject.toml"] = '[project]\nname = "app"\nversion = "0.1"\n'
    src = make_source(tmp_path / "src.tgz", files)
    result = run_build(src, "deps", wheelhouse, [], store, tmp_path / "work", tmp_path / "cache",
                       lambda _line: None,
                       BuildLimits(sandbox_paths=(wheelhouse["PIP_FIND_LINKS"],)))
    version = subprocess.run([str(result.build_dir / ".venv/bin/gunicorn"), "--version"],
                             capture_output=True, text=True, check=True)
    assert GUNICORN.split("==")[1] in version.stdout + version.stderr


def test_python_version_missing_on_host(store: ObjectStore, tmp_path: Path) -> None:
    src = make_source(tmp_path / "src.tgz", {"requirements.txt": "", ".python-version": "3.4",
                                             "Procfile": "web: python app.py\n"})
    with pytest.raises(BuildError) as err:
        run_build(src, "old", {}, [], store, tmp_path / "work", tmp_path / "cache",
                  lambda _line: None)
    assert err.value.step == "compile" and "python" in err.value.message
    assert "Python 3.4 was requested" in err.value.output_tail
