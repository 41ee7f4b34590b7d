"""Resolve a buildpack reference to a directory: built-in name, local path, git or tarball URL."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from roost.build.archive import safe_unpack
from roost.errors import BuildError, RoostError

BUILTIN_DIR = Path(__file__).resolve().parent / "buildpacks"
BUILTINS = ("python", "nodejs", "procfile")  # also the auto-detection order
TARBALL_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".tar.bz2", ".tar.xz")
MAX_TARBALL_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Buildpack:
    """A buildpack ready to run: where it came from and the directory holding ``bin/``."""

    ref: str
    path: Path

    @property
    def name(self) -> str:
        """A short name for messages: the built-in name or the reference itself."""
        return self.ref


def _fail(ref: str, why: str) -> BuildError:
    return BuildError(f"buildpack {ref}: cannot fetch: {why}", step="fetch")


def _git(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], env=env, capture_output=True, text=True,
                          timeout=max(1.0, timeout), stdin=subprocess.DEVNULL)


def _fetch_git(ref: str, url: str, rev: str, dest: Path, env: dict[str, str],
               timeout: float) -> None:
    genv = {**env, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        args = ["clone", "--quiet", "--depth", "1"] + (["--branch", rev] if rev else [])
        done = _git([*args, "--", url, str(dest)], genv, timeout)
        if done.returncode != 0 and rev:
            # Not a branch or tag: perhaps a commit id, which needs the full history.
            shutil.rmtree(dest, ignore_errors=True)
            done = _git(["clone", "--quiet", "--", url, str(dest)], genv, timeout)
            if done.returncode == 0:
                done = _git(["-C", str(dest), "checkout", "--quiet", rev], genv, timeout)
        if done.returncode != 0:
            raise _fail(ref, (done.stderr.strip().splitlines() or ["git failed"])[-1])
    except subprocess.TimeoutExpired as exc:
        raise _fail(ref, "git clone timed out") from exc
    except OSError as exc:
        raise _fail(ref, f"cannot run git: {exc}") from exc


def _fetch_tarball(ref: str, url: str, dest: Path, timeout: float) -> None:
    with tempfile.NamedTemporaryFile(suffix=".tar") as tmp:
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as resp:
                if resp.status_code != 200:
                    raise _fail(ref, f"HTTP {resp.status_code}")
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_TARBALL_BYTES:
                        raise _fail(ref, f"tarball larger than {MAX_TARBALL_BYTES} bytes")
                    tmp.write(chunk)
            tmp.flush()
        except httpx.HTTPError as exc:
            raise _fail(ref, str(exc) or type(exc).__name__) from exc
        try:
            safe_unpack(Path(tmp.name), dest, max_bytes=4 * MAX_TARBALL_BYTES)
        except RoostError as exc:
            raise _fail(ref, exc.message) from exc
    # Many published tarballs wrap everything in one top-level directory.
    entries = list(dest.iterdir())
    if not (dest / "bin").is_dir() and len(entries) == 1 and (entries[0] / "bin").is_dir():
        for child in entries[0].iterdir():
            child.rename(dest / child.name)
        entries[0].rmdir()


def _vendor_agent(vendor: Path) -> None:
    """Ship roost.agent (stdlib only) with the Python buildpack; compile installs it."""
    agent = Path(__file__).resolve().parent.parent / "agent"
    shutil.copytree(agent, vendor / "roost" / "agent",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (vendor / "roost" / "__init__.py").write_text('"""Roost\'s in-app agent."""\n')


def fetch_buildpack(ref: str, dest: Path, env: dict[str, str], timeout: float = 300.0
                    ) -> Buildpack:
    """Make buildpack ``ref`` available under ``dest`` (a new directory) and return it.

    ``ref`` is a built-in name (``python``, ``nodejs``, ``procfile``), a local
    directory, a tarball URL, or a git URL with an optional ``#ref``
    (``https://host/repo.git#v2``, ``file:///srv/bp.git#main``).
    """
    ref = ref.strip()
    if ref in BUILTINS:
        # A private copy per build: compile writes its ``export`` file beside bin/.
        shutil.copytree(BUILTIN_DIR / ref, dest, ignore=shutil.ignore_patterns(
            "__init__.py", "__pycache__"))
        if ref == "python":
            _vendor_agent(dest / "vendor")
        return Buildpack(ref, dest)
    url, _, rev = ref.partition("#")
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:
        path = Path(url).expanduser()
        if not (path.is_absolute() and (path / "bin").is_dir()):
            raise _fail(ref, "not a built-in name, URL, or absolute path to a buildpack directory")
        shutil.copytree(path, dest, symlinks=True)
        return Buildpack(ref, dest)
    if parts.scheme not in ("http", "https", "git", "ssh", "file") and "@" not in url:
        raise _fail(ref, f"unsupported URL scheme {parts.scheme!r}")
    if parts.scheme in ("http", "https") and parts.path.endswith(TARBALL_SUFFIXES):
        dest.mkdir(parents=True)
        _fetch_tarball(ref, url, dest, timeout)
    else:
        _fetch_git(ref, url, rev, dest, env, timeout)
    if not (dest / "bin" / "compile").is_file():
        raise _fail(ref, "it has no bin/compile")
    return Buildpack(ref, dest)
