"""The CLI's HTTP client goes through the proxy the environment names, like httpx did."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.cli.conftest import roost


class RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy stand-in: records each request, answers an empty list."""

    seen: list[tuple[str, str | None, str | None]] = []

    def do_GET(self) -> None:  # the stdlib's handler naming
        self.seen.append((self.requestline, self.headers.get("Proxy-Authorization"),
                          self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[tuple[int, list[tuple[str, str | None, str | None]]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), RecordingProxy)
    RecordingProxy.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], RecordingProxy.seen
    server.shutdown()
    server.server_close()


def test_requests_go_through_http_proxy_unless_no_proxy_names_the_host(
        offline_env: dict[str, str], proxy: tuple[int, list[tuple[str, str | None, str | None]]]
) -> None:
    port, seen = proxy
    url = offline_env["ROOST_API_URL"]  # nothing listens there
    env = {**offline_env, "ROOST_TOKEN": "tok",
           "HTTP_PROXY": f"http://ann:p%40ss@127.0.0.1:{port}"}
    run = roost(env, "apps")
    assert run.code == 0, run.stderr
    assert "no apps yet" in run.stdout
    # base64 of "ann:p@ss"
    assert seen == [(f"GET {url}/api/v1/apps HTTP/1.1", "Basic YW5uOnBAc3M=", "Bearer tok")]
    direct = roost({**env, "NO_PROXY": "127.0.0.1"}, "apps")
    assert direct.code == 1 and f"cannot reach Roost at {url}" in direct.stderr
    assert len(seen) == 1
