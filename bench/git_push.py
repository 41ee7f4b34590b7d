"""git push benchmark: push-to-serving time of examples/python-app by `git push` against
`roost deploy` of the same tree, through one real `roost up`.

Measured in the same run, each on an app of its own (so each has its own build cache):
  first deploy      the whole tree, empty build cache
  one file changed  app.py gains a line; median of RUNS rounds, the two alternating
The time runs from starting the command until the router serves the new release.
Target: git push <= 1.1 x roost deploy for the one-file change, and the second push sends
only the changed objects (its pack size is printed next to the first push's).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.wheelhouse import repack_wheel  # noqa: E402  (the tests' offline gunicorn wheel)

APP = ROOT / "examples" / "python-app"
ROOST = str(Path(sys.executable).with_name("roost"))
RUNS = 5
WRITING = re.compile(r"Writing objects: 100% \((\d+)/\d+\), ([\d.]+ \w+)")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(cond: Callable[[], bool], timeout: float) -> None:
    """Poll ``cond`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s")
        time.sleep(0.02)


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command; stop the benchmark with its output if it fails."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def main() -> None:
    """Start Roost, deploy both ways, print the figures side by side."""
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-git-"))
    tmp.chmod(0o755)  # apps and builds run as users of their own when Roost is root
    house = tmp / "wheelhouse"
    house.mkdir(mode=0o755)
    repack_wheel("gunicorn", house)
    router = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(tmp / "home"), "ROOST_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_ROUTER_LISTEN": router, "ROOST_ADVISORY_SOURCES": "",
                "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_SANDBOX_PATHS": str(house), "HOME": str(tmp / "user"),
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@x.test",
                "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x.test"})
    (tmp / "user").mkdir()
    url = "http://" + env["ROOST_LISTEN"]
    up = subprocess.Popen([ROOST, "up"], env=env, stdout=(tmp / "up.log").open("wb"),
                          stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait(lambda: _answers(url + "/api/v1/health"), 60)
        figures = measure(env, tmp, router)
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        up.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    report(*figures)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def measure(env: dict[str, str], tmp: Path, router: str
            ) -> tuple[dict[str, list[float]], dict[str, list[float]], list[str]]:
    """First deploys, then RUNS one-file changes; returns times per way and pack sizes."""
    src = tmp / "src"
    shutil.copytree(APP, src)
    for app in ("viagit", "viadeploy"):
        run(env, tmp, ROOST, "apps", "create", app)
        run(env, tmp, ROOST, "config", "set", app, "PIP_NO_INDEX=1",
            f"PIP_FIND_LINKS={tmp / 'wheelhouse'}")
    run(env, src, "git", "init", "-q", "-b", "main")
    run(env, src, "git", "add", "-A")
    run(env, src, "git", "commit", "-qm", "first")
    run(env, src, ROOST, "git", "remote", "viagit")
    first: dict[str, list[float]] = {"git": [], "deploy": []}
    change: dict[str, list[float]] = {"git": [], "deploy": []}
    packs: list[str] = []

    def serving(app: str, release: int) -> Callable[[], bool]:
        def check() -> bool:
            try:
                page = httpx.get(f"http://{router}/", headers={"Host": f"{app}.localhost"},
                                 timeout=5).text
            except httpx.HTTPError:
                return False
            return f"Release v{release}<" in page
        return check

    def timed(app: str, release: int, *args: str) -> tuple[float, str]:
        start = time.perf_counter()
        done = run(env, src, *args)
        wait(serving(app, release), 60)
        return time.perf_counter() - start, done.stderr

    for release in range(1, RUNS + 2):
        if release > 1:
            with (src / "app.py").open("a") as fh:
                fh.write(f"\n# change {release}\n")
            run(env, src, "git", "commit", "-qam", f"change {release}")
        bucket = first if release == 1 else change
        ways = [("deploy", ("viadeploy", release, ROOST, "deploy", "viadeploy", ".")),
                ("git", ("viagit", release, "git", "push", "--progress", "roost", "main"))]
        for way, args in ways if release % 2 else reversed(ways):
            elapsed, stderr = timed(*args)  # type: ignore[arg-type]
            bucket[way].append(elapsed)
            if way == "git" and (found := WRITING.search(stderr)):
                packs.append(f"{found.group(1)} objects, {found.group(2)}")
    return first, change, packs


def report(first: dict[str, list[float]], change: dict[str, list[float]],
           packs: list[str]) -> None:
    """Print the figures next to the peer's."""
    print(f"examples/python-app through a real roost up: git push vs roost deploy "
          f"(one-file change: median of {RUNS})")
    for label, times in (("first deploy", first), ("one file changed", change)):
        g, d = statistics.median(times["git"]), statistics.median(times["deploy"])
        print(f"  {label:17} roost deploy {d:6.2f}s   git push {g:6.2f}s   "
              f"ratio {g / d:.2f}x")
    ratio = statistics.median(change["git"]) / statistics.median(change["deploy"])
    print(f"  one-file ratio git push / roost deploy = {ratio:.2f}x "
          f"({'meets' if ratio <= 1.1 else 'MISSES'} the 1.1x target)")
    if len(packs) >= 2:
        print(f"  pack sent: first push {packs[0]}; second push {packs[1]}")


if __name__ == "__main__":
    main()
