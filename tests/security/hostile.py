"""A hostile app for the security tests: it serves its own page and, on ``/attack``, tries to
reach the platform's private surfaces from inside, reporting what each attempt got.

It is a plain Procfile app (the host's ``python3``, standard library only), deployed through
the real CLI onto a real `roost up`. Its targets come from its config var ``ATTACK`` (JSON):
``files`` to read, ``dirs`` to list, ``writes`` (files to write a resolver command into),
``sockets`` (unix) and ``tcp`` (host:port) to send a Caddy admin request to, which would add
a route serving ``ROOST_HOME`` if it were obeyed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok

# What an attempt on a private path may get: no permission, or (inside a sandbox, which
# shows the app neither ROOST_HOME nor Roost's processes) no such thing at all.
REFUSED = ("PermissionError", "FileNotFoundError")

APP = r'''
import http.server, json, os, socket, sys

def attempt(action):
    try:
        return "ok: " + str(action())[:200]
    except Exception as exc:
        return type(exc).__name__

def admin_request(connect):
    route = {"match": [{"host": ["loot.localhost"]}],
             "handle": [{"handler": "file_server", "root": os.environ["LOOT_ROOT"],
                         "browse": {}}]}
    body = json.dumps(route).encode()
    request = (b"POST /config/apps/http/servers/roost/routes/0 HTTP/1.1\r\n"
               b"Host: localhost\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n"
               b"Connection: close\r\n\r\n" + body)
    sock = connect()
    try:
        sock.settimeout(3)
        sock.sendall(request)
        return sock.recv(200).decode(errors="replace")
    finally:
        sock.close()

def unix(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s

def tcp(address):
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=3)

def read(path):
    with open(path, "rb") as fh:
        return fh.read(64)

def write(path):
    with open(path, "wb") as fh:  # e.g. the resolver's command pipe through /proc
        return fh.write(json.dumps({"set": "web.up.roost",
                                    "records": [["127.0.0.1", 9]]}).encode() + b"\n")

def attack():
    plan = json.loads(os.environ.get("ATTACK", "{}"))
    found = {}
    for path in plan.get("writes", []):
        found["write " + path] = attempt(lambda: write(path))
    for path in plan.get("files", []):
        found["read " + path] = attempt(lambda: read(path))
    for path in plan.get("dirs", []):
        found["list " + path] = attempt(lambda: os.listdir(path))
    for path in plan.get("sockets", []):
        found["admin " + path] = attempt(lambda: admin_request(lambda: unix(path)))
    for address in plan.get("tcp", []):
        found["admin " + address] = attempt(lambda: admin_request(lambda: tcp(address)))
    found["uid"] = os.getuid()
    return found

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(attack() if self.path == "/attack" else {"app": "hostile"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

mb = int(os.environ.get("FLOOD_MB", "0"))
if mb:  # one enormous line with no end, then a normal one
    chunk = b"x" * (1 << 20)
    for _ in range(mb):
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.write(b"\nflood done\n")
    sys.stdout.flush()
print("hostile app up", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def router(server: Server) -> str:
    """The router's base URL."""
    return "http://" + server.env["ROOST_ROUTER_LISTEN"]


def get(server: Server, host: str, path: str = "/") -> httpx.Response:
    """GET ``path`` through the server's router with ``Host: host``."""
    return httpx.get(router(server) + path, headers={"Host": host}, timeout=30)


def deploy_hostile(server: Server, src: Path, app: str = "evil",
                   config: dict[str, str] | None = None) -> None:
    """Create ``app`` and deploy the hostile app from ``src`` (a new directory)."""
    ok(server, "apps", "create", app)
    settings = {"LOOT_ROOT": str(server.home), **(config or {})}
    ok(server, "config", "set", app, *(f"{k}={v}" for k, v in settings.items()))
    src.mkdir(parents=True, exist_ok=True)
    (src / "Procfile").write_text("web: python3 app.py\n")
    (src / "app.py").write_text(APP)
    deployed = server.roost("deploy", app, str(src), timeout=300)
    assert deployed.returncode == 0, deployed.stderr


def attack(server: Server, plan: dict[str, Any], app: str = "evil") -> dict[str, Any]:
    """Give the hostile app its targets (a new release) and run its attack once."""
    ok(server, "config", "set", app, "ATTACK=" + json.dumps(plan))
    response = get(server, f"{app}.localhost", "/attack")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found
