"""The CLI's HTTP client of the control plane API; every failure becomes one clear line.

Built on the standard library's ``http.client`` rather than httpx: importing httpx (with
httpcore, h11 and idna) takes longer than all the rest of a command like `roost apps`,
and the CLI needs only plain requests, one streamed upload and streamed answers. Like
httpx it goes through ``HTTP_PROXY``/``HTTPS_PROXY`` unless ``NO_PROXY`` names the host,
and it reads an answer the server sends before taking the whole upload (a deploy refused
while another runs).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from roost import credentials

if TYPE_CHECKING:  # imported by the first request: `roost --help` needs none of them
    from http.client import HTTPConnection, HTTPResponse


class CliError(Exception):
    """A failure the CLI reports as one line and a non-zero exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Unreachable(CliError):
    """The server could not be reached, or the connection broke; ``cause`` names why."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def _target() -> credentials.Credentials:
    creds = credentials.resolve()
    if creds is None:
        raise CliError(
            "no Roost server configured: start one with `roost up` (or `make up`), "
            "or point the CLI at one with `roost login URL --token T`"
        )
    return creds


def _unreachable(url: str, exc: BaseException) -> Unreachable:
    return Unreachable(f"cannot reach Roost at {url} ({exc.__class__.__name__}): "
                       "is `roost up` running? (`roost status` checks)",
                       exc.__class__.__name__)


def _connect(url: str, timeout: float | None) -> tuple[HTTPConnection, str, dict[str, str]]:
    """A connection for ``url`` (through the environment's proxy, if it names one for this
    host), the request target to send on it and any header the proxy needs."""
    import base64
    import http.client
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if https else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        return cls(host, port, timeout=timeout), target, {}
    via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    auth = {}
    if via.username:
        pair = f"{urllib.parse.unquote(via.username)}:{urllib.parse.unquote(via.password or '')}"
        auth["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if https:  # a CONNECT tunnel to the server, TLS inside it
        conn: HTTPConnection = http.client.HTTPSConnection(via.hostname or "", via.port or 80,
                                                           timeout=timeout)
        conn.set_tunnel(host, port, headers=auth)
        return conn, target, {}
    conn = http.client.HTTPConnection(via.hostname or "", via.port or 80, timeout=timeout)
    return conn, url, auth  # a plain-HTTP proxy takes the absolute URL


class Response:
    """An answer of the API: its status, and its body read whole or as it arrives."""

    def __init__(self, raw: HTTPResponse, server: str) -> None:
        self.raw = raw
        self.server = server
        self.status_code: int = raw.status or 0
        self.reason_phrase: str = str(raw.reason or "")
        self.content: bytes | None = None

    def read(self) -> bytes:
        """The whole body (read once, then kept)."""
        if self.content is None:
            self.content = b"".join(self._chunks(lambda: self.raw.read()))
        return self.content

    def json(self) -> Any:
        """The body decoded as JSON."""
        return jsonlib.loads(self.read())

    def iter_lines(self) -> Iterator[str]:
        """The body's lines as they arrive, without line endings."""
        for line in self._chunks(self.raw.readline):
            yield line.decode("utf-8", "replace").rstrip("\r\n")

    def iter_text(self) -> Iterator[str]:
        """The body's text as it arrives, in pieces of any size."""
        for chunk in self._chunks(lambda: self.raw.read1(65536)):
            yield chunk.decode("utf-8", "replace")

    def _chunks(self, read: Callable[[], bytes]) -> Iterator[bytes]:
        """Call ``read`` until it returns nothing; a broken connection is Unreachable."""
        from http.client import HTTPException

        while True:
            try:
                chunk = read()
            except (HTTPException, OSError) as exc:
                raise _unreachable(self.server, exc) from exc
            if not chunk:
                return
            yield chunk


def _query(params: dict[str, Any] | None) -> str:
    """A query string encoded as httpx encoded it: booleans as true/false, None as '', a
    list as the key repeated."""
    import urllib.parse

    if not params:
        return ""
    pairs = []
    for k, v in params.items():
        for item in v if isinstance(v, list) else [v]:
            pairs.append((k, "true" if item is True else "false" if item is False
                          else "" if item is None else item))
    return "?" + urllib.parse.urlencode(pairs)


class Client:
    """Sends authenticated requests to the API and decodes its answers."""

    def __init__(self, creds: credentials.Credentials | None = None,
                 timeout: float | None = 30.0) -> None:
        self.creds = creds or _target()
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to ``/api/v1`` + ``path``; return decoded JSON or raise CliError."""
        response = self.send(method, path, **kwargs)
        body = response.read()
        if response.status_code == 204 or not body:
            return None
        return jsonlib.loads(body)

    def send(self, method: str, path: str, **kwargs: Any) -> Response:
        """Send a request and return the response, raising CliError on error statuses."""
        with self.stream(method, path, **kwargs) as response:
            response.read()
        if response.status_code >= 400:
            raise CliError(error_message(response))
        return response

    @contextmanager
    def stream(self, method: str, path: str, *, params: dict[str, Any] | None = None,
               json: Any = None, content: bytes | Iterable[bytes] | None = None,
               headers: dict[str, str] | None = None) -> Iterator[Response]:
        """Send a request and give its response unread, whatever its status (for logs,
        build output and one-off commands); ``content`` may be a generator of chunks."""
        from http.client import HTTPException

        conn, target, all_headers = _connect(self.creds.url + "/api/v1" + path
                                             + _query(params), self.timeout)
        if self.creds.token:
            all_headers["Authorization"] = f"Bearer {self.creds.token}"
        all_headers.update(headers or {})
        if json is not None:
            content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            all_headers["Content-Type"] = "application/json"
        try:
            # A server may answer before taking the whole body (a refusal): read its answer.
            with suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, target, body=content, headers=all_headers)
            raw = conn.getresponse()
        except (HTTPException, OSError) as exc:
            conn.close()
            raise _unreachable(self.creds.url, exc) from exc
        try:
            with raw:
                yield Response(raw, self.creds.url)
        finally:
            conn.close()


def error_message(response: Response) -> str:
    """The API's one-line error message, or a description of the status."""
    try:
        err = response.json()["error"]
        return str(err["message"])
    except (ValueError, KeyError, TypeError):
        return f"server answered {response.status_code} {response.reason_phrase}"
