"""The build-runner: the entry point of every build task on a swarm (standalone, stdlib only).

Shipped to build tasks as a docker config at ``/roost/buildrunner.py`` (it imports nothing
of Roost's) and run as ``nobody`` in the stack image. It reads the build's secret
(``/run/secrets/roost-build``: signed URLs and the config vars), downloads the build bundle
(the source archive, the buildpacks fetched by the control plane, ``build.json``), runs the
Heroku classic buildpack API in ``/tmp/app`` (the path the slug-runner unpacks slugs to),
packs the slug (``.slugignore`` honoured) and uploads it, the buildpacks' ``bin/release``
output and the build cache with signed PUTs. Its output is the build's output; the exit
status says whether the build succeeded.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECRET = Path("/run/secrets/roost-build")
ROOT = Path("/tmp")
APP, CACHE, ENV, HOME = ROOT / "app", ROOT / "cache", ROOT / "env", ROOT / "home"
BUNDLE = ROOT / "bundle"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOISE = {"_", "SHLVL", "PWD", "OLDPWD"}


class Failed(Exception):
    """The build failed; the message is its last line."""


def say(line: str) -> None:
    """One line of build output."""
    print(line, flush=True)


def download(url: str, target: Path) -> None:
    """GET ``url`` into ``target``, retrying a few times."""
    for attempt in range(5):
        try:
            with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            return
        except OSError as exc:
            if attempt == 4:
                raise Failed(f"download failed: {exc}") from exc
            time.sleep(1 + attempt)


def upload(url: str, source: Path) -> None:
    """PUT ``source`` to ``url``."""
    with source.open("rb") as data:
        request = urllib.request.Request(url, data=data, method="PUT", headers={
            "Content-Length": str(source.stat().st_size),
            "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
        except OSError as exc:
            raise Failed(f"upload failed: {exc}") from exc


def unpack(archive: Path, target: Path) -> None:
    """Unpack a tarball into ``target``, nothing outside it."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
            return
        for member in tar.getmembers():  # pragma: no cover - old Python in a custom image
            name = os.path.normpath(member.name)
            if name.startswith(("/", "..")) or member.isdev() or (
                    (member.issym() or member.islnk()) and (
                        member.linkname.startswith("/") or ".." in member.linkname)):
                raise Failed(f"archive entry {member.name!r} leaves its directory")
        tar.extractall(target)


def ignored(patterns: list[str]) -> Callable[[str], bool]:
    """A predicate on relative paths (gitignore-like, as roost.build.archive)."""
    anchored = [p.rstrip("/").lstrip("/") for p in patterns if "/" in p.rstrip("/")]
    anywhere = [p.rstrip("/") for p in patterns if p.rstrip("/") and "/" not in p.rstrip("/")]

    def test(rel: str) -> bool:
        if rel == ".git" or rel.startswith(".git/"):
            return True
        if any(fnmatch.fnmatchcase(rel, p) for p in anchored):
            return True
        return any(fnmatch.fnmatchcase(part, p) for part in rel.split("/") for p in anywhere)
    return test


def pack(root: Path, out: Path, patterns: list[str], level: int = 6) -> int:
    """Pack ``root`` (minus ignored paths) into a gzipped tarball; its size."""
    skip = ignored(patterns)
    with tarfile.open(out, "w:gz", compresslevel=level) as tar:
        for directory, dirs, files in os.walk(root):  # links to directories: not followed
            rel_dir = os.path.relpath(directory, root)
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirs[:] = sorted(d for d in dirs if not skip(rel_dir + d))
            for name in sorted(dirs + [f for f in files if not skip(rel_dir + f)]):
                tar.add(os.path.join(directory, name), arcname=rel_dir + name,
                        recursive=False)
    return out.stat().st_size


def step(argv: list[str], env: dict[str, str], deadline: float,
         capture: bool = False) -> tuple[int, str]:
    """Run one buildpack step in APP; stream (or capture) its merged output."""
    if not os.access(argv[0], os.X_OK):
        argv = ["/bin/bash", *argv]
    child = subprocess.Popen(argv, cwd=APP, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    assert child.stdout is not None
    captured: list[str] = []
    for raw in child.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        if capture:
            captured.append(line)
        else:
            say(line)
        if time.monotonic() > deadline:
            child.kill()
            raise Failed(f"build timed out in {argv[-1]}")
    return child.wait(), "\n".join(captured)


def build(plan: dict[str, Any], env: dict[str, str], deadline: float
          ) -> tuple[list[str], list[list[str]]]:
    """Detect, compile, export and release; (buildpacks used, their release outputs)."""
    chosen = []
    for bp in plan["buildpacks"]:
        path = BUNDLE / "buildpacks" / bp["dir"]
        code, out = step([str(path / "bin" / "detect"), str(APP)], env, deadline, capture=True)
        if code == 0:
            chosen.append((bp["name"], path, (out.strip().splitlines() or [bp["name"]])[0]))
            if plan["auto"]:
                break
        elif not plan["auto"]:
            raise Failed(f"buildpack {bp['name']} failed at detect: it does not support this app")
    if not chosen:
        raise Failed("no buildpack detected this app (tried " + ", ".join(
            bp["name"] for bp in plan["buildpacks"]) + "); add requirements.txt, package.json "
            "or a Procfile, or set buildpacks explicitly")
    for name, path, label in chosen:
        say(f"-----> {label} app detected ({name})")
        started = time.monotonic()
        code, _ = step([str(path / "bin" / "compile"), str(APP), str(CACHE), str(ENV)],
                       env, deadline)
        if code != 0:
            raise Failed(f"buildpack {name} failed at compile: bin/compile exited with "
                         f"status {code}")
        say(f"-----> {name} compiled in {time.monotonic() - started:.1f}s")
        if (path / "export").is_file():
            code, out = step(["/bin/bash", "-c", 'set -e; . "$1" >&2; env -0', "export",
                              str(path / "export")], env, deadline, capture=True)
            if code != 0:
                raise Failed(f"buildpack {name} failed at export: sourcing it failed")
            pairs = (item.partition("=") for item in out.split("\0"))
            env = {k: v for k, sep, v in pairs if sep and k not in NOISE}
    releases = []
    for name, path, _ in chosen:
        if (path / "bin" / "release").exists():
            code, out = step([str(path / "bin" / "release"), str(APP)], env, deadline,
                             capture=True)
            if code != 0:
                raise Failed(f"buildpack {name} failed at release: exited with status {code}")
            releases.append([name, out])
    return [name for name, _, _ in chosen], releases


def main() -> int:
    """Run the build the secret describes; 0 when the slug is uploaded."""
    secret = json.loads(SECRET.read_text())
    started = time.monotonic()
    try:
        for path in (APP, CACHE, ENV, HOME / "tmp", BUNDLE):
            path.mkdir(parents=True, exist_ok=True)
        node = os.environ.get("ROOST_BUILD_NODE", "?")
        say(f"-----> Building on node {node} (task {socket.gethostname()}) as uid {os.getuid()}")
        download(secret["bundle_url"], ROOT / "bundle.tar")
        unpack(ROOT / "bundle.tar", BUNDLE)
        plan = json.loads((BUNDLE / "build.json").read_text())
        deadline = started + float(plan["timeout"])
        unpack(BUNDLE / "source", APP)
        if secret.get("cache_url"):
            try:
                download(secret["cache_url"], ROOT / "cache.tgz")
                unpack(ROOT / "cache.tgz", CACHE)
            except (Failed, tarfile.TarError):
                say("       (no usable build cache: building from scratch)")
        for name, value in secret["env"].items():
            (ENV / name).write_text(value)
        env = {"PATH": PATH, "HOME": str(HOME), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "TERM": "dumb", "TMPDIR": str(HOME / "tmp"), "STACK": plan["stack"],
               "SOURCE_VERSION": plan["source_version"]}
        used, releases = build(plan, env, deadline)
        say("-----> Compressing slug")
        ignore = APP / ".slugignore"
        patterns = [] if ignore.is_symlink() or not ignore.is_file() else [
            ln.strip() for ln in ignore.read_text(errors="replace").splitlines()
            if ln.strip() and not ln.strip().startswith("#")]
        size = pack(APP, ROOT / "slug.tgz", patterns, int(plan.get("compresslevel", 6)))
        if size > int(plan["max_slug_bytes"]):
            raise Failed(f"slug is {size / 1e6:.1f} MB, over the limit of "
                         f"{int(plan['max_slug_bytes']) / 1e6:.1f} MB; add large files to "
                         ".slugignore")
        say(f"       Slug size {size / 1e6:.1f} MB")
        upload(secret["slug_put_url"], ROOT / "slug.tgz")
        result = ROOT / "result.json"
        result.write_text(json.dumps({"buildpacks_used": used, "release": releases}))
        upload(secret["result_put_url"], result)
        if secret.get("cache_put_url"):
            try:
                pack(CACHE, ROOT / "cache.tgz", [])
                upload(secret["cache_put_url"], ROOT / "cache.tgz")
            except (Failed, OSError) as exc:
                say(f"       (build cache not saved: {exc})")
        say(f"-----> Build finished in {time.monotonic() - started:.1f}s")
        return 0
    except Failed as exc:
        say(f" !     {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
