"""A stand-in forge for tests: bare repositories served read-only over HTTP on 127.0.0.1
by git's own `git http-backend` (as a forge serves `git clone https://…`)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _cgi(self) -> None:
            path, _, query = self.path.partition("?")
            if not (path.endswith("/info/refs") or path.endswith("/git-upload-pack")):
                self.send_error(403, "read-only forge")
                return
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(root),
                   "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
                   "PATH_INFO": path, "QUERY_STRING": query, "GIT_CONFIG_NOSYSTEM": "1",
                   "CONTENT_TYPE": self.headers.get("content-type", ""),
                   "CONTENT_LENGTH": str(length),
                   "HTTP_CONTENT_ENCODING": self.headers.get("content-encoding", ""),
                   "HTTP_GIT_PROTOCOL": self.headers.get("git-protocol", "")}
            out = subprocess.run(["git", "http-backend"], input=body, env=env,
                                 capture_output=True, check=True, timeout=60).stdout
            head, _, rest = out.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            self.wfile.write(rest)

        do_GET = do_POST = _cgi

    return Handler


@contextmanager
def forge(root: Path) -> Iterator[str]:
    """Serve the bare repositories under ``root``; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
