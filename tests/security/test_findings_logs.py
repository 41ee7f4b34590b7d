"""Many `roost logs -f` streams on a quiet app must not starve the API of threads or
store connections, during the streams or after their clients go away."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, _remove_home, start_server, stop_server

__all__ = ["_remove_home"]  # the autouse fixture that deletes each test's ROOST_HOME
STREAMS = 50


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh `roost up` on SQLite."""
    srv = start_server(tmp_path)
    yield srv
    stop_server(srv)


def _answers_promptly(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.get("/api/v1/apps", timeout=5)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 5


def _open_streams(server: Server, stack: ExitStack) -> list[httpx.Response]:
    """Open ``STREAMS`` follow streams, each on its own connection, headers received."""
    responses = []
    for _ in range(STREAMS):
        client = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
        response = stack.enter_context(client.stream(
            "GET", "/api/v1/apps/quiet/logs", params={"follow": "true", "lines": 0},
            headers=_auth(server)))
        assert response.status_code == 200
        responses.append(response)
    return responses


def _auth(server: Server) -> dict[str, str]:
    token = json.loads((server.home / "credentials.json").read_text())["token"]
    return {"Authorization": f"Bearer {token}"}


def test_follow_streams_leave_the_api_answering(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers=_auth(server)) as api:
        assert api.post("/api/v1/apps", json={"name": "quiet"}).status_code == 201
        with ExitStack() as stack:
            _open_streams(server, stack)
            for _ in range(3):
                _answers_promptly(api)  # while all streams wait on a quiet app
        # The clients are gone: the server notices within a poll and frees everything.
        for _ in range(20):
            _answers_promptly(api)
        # And a second wave opens just as well: nothing from the first one is still held.
        with ExitStack() as stack:
            _open_streams(server, stack)
            _answers_promptly(api)


def test_a_followed_stream_still_delivers_new_lines(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers=_auth(server)) as api:
        assert api.post("/api/v1/apps", json={"name": "quiet"}).status_code == 201
        log = server.home / "logs" / "quiet.log"
        received = threading.Event()

        def app_writes() -> None:  # until the stream shows a line: it starts at the file's end
            while not received.wait(0.1):
                with log.open("a") as fh:
                    fh.write("2026-01-01T00:00:00.000Z app[web.1]: hello from the app\n")

        writer = threading.Thread(target=app_writes)
        with api.stream("GET", "/api/v1/apps/quiet/logs",
                        params={"follow": "true", "lines": 0}) as response:
            writer.start()
            try:
                first = next(response.iter_lines())
            finally:
                received.set()
                writer.join()
        assert first.endswith("app[web.1]: hello from the app")
        missing = api.get("/api/v1/apps/nope/logs", params={"follow": "true"}, timeout=5)
        assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
