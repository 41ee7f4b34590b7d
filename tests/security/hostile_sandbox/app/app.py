"""A hostile app: each endpoint tries to break out of its sandbox and reports what it got."""

import http.server
import json
import os
import subprocess
import threading

HOME = os.environ.get("TARGET_HOME", "/nonexistent")
FILES = ("secret.key", "credentials.json", "roost.db", "logs", "objects")


def attempt(action):
    try:
        action()
        return "GOT"
    except OSError as exc:
        return f"refused: {exc.strerror}"


def read(path):
    if os.path.isdir(path):
        os.listdir(path)
    else:
        with open(path, "rb") as fh:
            fh.read(1)


def write(path):
    with open(path, "w") as fh:
        fh.write("pwned")


def environs():
    seen = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    seen.append(fh.read().decode(errors="replace"))
            except OSError:
                pass
    return seen


def attacks():
    report = {name: attempt(lambda n=name: read(os.path.join(HOME, n))) for name in FILES}
    report["victim_release"] = attempt(lambda: write(os.environ["VICTIM_DIR"] + "/pwned"))
    report["own_release_on_host"] = attempt(lambda: write(os.environ["OWN_DIR"] + "/pwned"))
    report["own_app_dir"] = attempt(lambda: write("/app/pwned.txt"))
    report["manifest_link"] = attempt(lambda: (
        os.makedirs("/app/.roost", exist_ok=True),
        os.path.lexists("/app/.roost/assets-manifest.json")
        and os.unlink("/app/.roost/assets-manifest.json"),
        os.symlink(os.environ["LINK_TARGET"], "/app/.roost/assets-manifest.json")))
    report["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report["environs"] = environs()
    report["uid"] = os.getuid()
    with open("/app/build-attacks.txt") as fh:
        report["build"] = fh.read().splitlines()
    report["roost_is_link"] = os.path.islink("/app/.roost")
    report["manifest_in_public"] = os.path.exists("/app/public/assets-manifest.json")
    return report


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok"
        if self.path == "/attack":
            body = json.dumps(attacks()).encode()
        elif self.path == "/pwned":
            body = str(os.path.exists("/app/pwned.txt")).encode()
        elif self.path == "/bomb":
            subprocess.Popen(["bash", "-c", "bomb() { bomb | bomb & }; bomb"])
        elif self.path == "/eat":
            threading.Thread(target=lambda: bytearray(1024 * 1024 * 1024)).start()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])),
                                Handler).serve_forever()
