"""The slug-runner: the entry point of every app task on a swarm (standalone, stdlib only).

Shipped to the tasks as a docker config at ``/roost/runner.py`` (it imports nothing of
Roost's). ``runner.py TYPE`` reads the release's secret (``/run/secrets/roost-release``: the
slug URL with its token, the config vars, the process types), downloads and unpacks the
slug into ``/tmp/app``, and runs the Procfile command of TYPE (or the one-off command given
after ``--``) with the config vars, ``PORT``, ``HOST=0.0.0.0`` (unless a config var sets
it) and ``.profile.d``; files the platform adds (the asset manifest) replace the slug's.
SIGTERM is held for ``ROOST_DRAIN_SECONDS`` (the router's upstream refresh, so no new
request reaches a stopping task), then forwarded; swarm's stop grace period ends with
SIGKILL.
With ``ROOST_HEALTH`` set (web tasks), the runner checks GET ``$ROOST_HEALTH`` (or a TCP
connect when empty) on ``127.0.0.1:$PORT`` twice a second and keeps ``/tmp/roost-healthy``
while it passes; the task's health check tests for that file.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

SECRET = Path("/run/secrets/roost-release")
HEALTHY = Path("/tmp/roost-healthy")
APP = Path("/tmp/app")
PORT = os.environ.get("PORT", "5000")


def health(path: str) -> int:
    """0 when the app answers on $PORT (an HTTP status under 400 when PATH is given)."""
    try:
        if not path.startswith("/"):
            socket.create_connection(("127.0.0.1", int(PORT)), timeout=2).close()
            return 0
        conn = http.client.HTTPConnection("127.0.0.1", int(PORT), timeout=2)
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()  # closing with the body unread would reset the app's connection
        status = response.status
        conn.close()
        return 0 if status < 400 else 1
    except OSError:
        return 1


def fetch(urls: list[str], attempts: int = 5) -> None:
    """Download the slug from the first of ``urls`` that answers (each control-plane
    instance serves it) and unpack it into APP (a slug is a gzipped tarball)."""
    APP.mkdir(parents=True, exist_ok=True)
    archive = APP.parent / "slug.tgz"
    for attempt in range(attempts):
        if _download_any(urls, archive):
            break
        time.sleep(1 + attempt)
    else:
        raise SystemExit("could not download the release's slug from any control-plane host")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(APP, filter="data")
        else:  # pragma: no cover - old Python in a custom stack image
            tar.extractall(APP)
    archive.unlink()


def _download_any(urls: list[str], archive: Path) -> bool:
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, \
                    archive.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            return True
        except OSError as exc:
            host = url.split("/")[2] if url.count("/") >= 2 else url
            print(f"slug download from {host} failed ({exc})", file=sys.stderr, flush=True)
    return False


def put_files(files: dict[str, str]) -> None:
    """Write the files the platform adds to the release (its asset manifest), base64 by
    path relative to APP, replacing whatever the slug had there."""
    for relpath, data in files.items():
        parts = [p for p in relpath.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise SystemExit(f"refusing to write {relpath!r} outside the app")
        target = APP
        for part in parts[:-1]:  # never through a link or over a file the slug put there
            target = target / part
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(exist_ok=True)
        target = target / parts[-1]
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        target.unlink(missing_ok=True)
        target.write_bytes(base64.b64decode(data))


def main(argv: list[str]) -> int:
    """Run TYPE's command (or ``-- COMMAND``) from the release's slug."""
    release = json.loads(SECRET.read_text())
    fetch(release.get("slug_urls") or [release["slug_url"]])
    put_files(release.get("files") or {})
    if "--" in argv:
        command = " ".join(argv[argv.index("--") + 1:])
    else:
        command = release["process_types"][argv[0]]
    # HOST: the router reaches the task over the overlay network, not on its loopback.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(APP), "LANG": "C.UTF-8",
           "HOST": "0.0.0.0", **release["env"], "PORT": PORT, "DYNO": os.environ.get("DYNO", ""),
           "ROOST_RELEASE": release["release"]}
    script = 'for f in .profile.d/*.sh; do [ -f "$f" ] && . "./$f"; done; exec ' + command
    child = subprocess.Popen(["/bin/sh", "-c", script], cwd=APP, env=env)
    drain = float(os.environ.get("ROOST_DRAIN_SECONDS", "2"))

    def stop(_signum: int, _frame: object) -> None:
        time.sleep(drain)  # the router stops picking this task before the app stops
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if os.environ.get("ROOST_HEALTH") is not None:
        threading.Thread(target=watch_health, args=(os.environ["ROOST_HEALTH"], child),
                         daemon=True).start()
    return child.wait()


def watch_health(path: str, child: subprocess.Popen[bytes]) -> None:
    """Check the app twice a second and keep HEALTHY present while it answers: the
    container's health check only tests for the file (no interpreter started each time)."""
    while child.poll() is None:
        if health(path) == 0:
            if not HEALTHY.exists():  # a touch each time would be a disk write each time
                HEALTHY.touch()
        else:
            HEALTHY.unlink(missing_ok=True)
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
