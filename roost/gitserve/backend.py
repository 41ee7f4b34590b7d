"""git's own `git http-backend`, run as a CGI subprocess with streamed bodies.

The request body is copied to the backend's stdin chunk by chunk, and its output is read
back chunk by chunk after the CGI headers: a pack is never held in memory whole, and the
push's ``remote:`` lines reach the client as the build prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import InvalidInput, RoostError
from roost.gitserve.repos import MAX_PUSH_BYTES, GitUnavailable, git_env, project_root

log = logging.getLogger("roost.gitserve")
MAX_HEADER_BYTES = 64 * 1024
CHUNK = 64 * 1024
SERVICES = {"git-upload-pack", "git-receive-pack"}


class TooLarge(InvalidInput):
    """A push's request body is over the limit."""

    code = "too_large"
    status = 413


@dataclass
class CgiRequest:
    """What the backend needs to know of an HTTP request."""

    method: str
    path_info: str  # /<repo>.git/<path>
    query: str
    content_type: str
    content_length: str
    content_encoding: str
    git_protocol: str
    remote_user: str
    remote_addr: str
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class CgiResponse:
    """The backend's status and headers; ``body`` streams the rest and reaps the process."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


def check_path(path: str, method: str, query: str) -> None:
    """Only the smart protocol's three endpoints: no dumb-protocol file access."""
    if method == "GET" and path == "info/refs":
        service = dict(p.partition("=")[::2] for p in query.split("&") if p).get("service", "")
        if service in SERVICES:
            return
        raise InvalidInput("Roost speaks git's smart HTTP protocol only: use git 1.6.6 or newer")
    if method == "POST" and path in SERVICES:
        return
    raise InvalidInput(f"no git endpoint {method} {path}: push with `git push roost main`")


def _environ(home: Path, req: CgiRequest) -> dict[str, str]:
    env = git_env(home, {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": req.method, "PATH_INFO": req.path_info, "QUERY_STRING": req.query,
        "CONTENT_TYPE": req.content_type, "REMOTE_USER": req.remote_user,
        "REMOTE_ADDR": req.remote_addr, "GIT_PROJECT_ROOT": str(project_root(home)),
        "GIT_HTTP_EXPORT_ALL": "1", "GIT_HTTP_MAX_REQUEST_BUFFER": "10M",
    })
    if req.content_length:
        env["CONTENT_LENGTH"] = req.content_length
    if req.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = req.content_encoding
    if req.git_protocol:
        env["HTTP_GIT_PROTOCOL"] = req.git_protocol
    env.update(req.extra_env)
    return env


async def _feed(proc: asyncio.subprocess.Process, body: AsyncIterator[bytes]) -> None:
    """Copy the request body to the backend, refusing more than a push may carry."""
    assert proc.stdin is not None
    size = 0
    try:
        async for chunk in body:
            size += len(chunk)
            if size > MAX_PUSH_BYTES:
                log.warning("git request body over %d bytes: cut off", MAX_PUSH_BYTES)
                proc.kill()
                return
            proc.stdin.write(chunk)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the backend answered (e.g. refused) before reading everything
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()


def _parse_headers(raw: bytes) -> tuple[int, dict[str, str]]:
    status, headers = 200, {}
    for line in raw.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name.strip():
            headers[name.strip()] = value.strip()
    return status, headers


async def run(home: Path, req: CgiRequest, body: AsyncIterator[bytes]) -> CgiResponse:
    """Start `git http-backend` for ``req``; return once its CGI headers are read."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "http-backend", env=_environ(home, req), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)  # its own group: receive-pack and the hook go with it
    except FileNotFoundError as exc:
        raise GitUnavailable("git is not installed on the Roost server: install it "
                             "(apt-get install git) and push again") from exc
    feeder = asyncio.create_task(_feed(proc, body))
    errors = asyncio.create_task(_read_stderr(proc))
    assert proc.stdout is not None
    buffered = b""
    while b"\r\n\r\n" not in buffered and b"\n\n" not in buffered:
        chunk = await proc.stdout.read(CHUNK)
        if not chunk or len(buffered) > MAX_HEADER_BYTES:
            await _reap(proc, feeder)
            raise RoostError(f"git http-backend failed: {(await errors).strip()[-300:]}")
        buffered += chunk
    sep = b"\r\n\r\n" if b"\r\n\r\n" in buffered else b"\n\n"
    head, _, rest = buffered.partition(sep)
    status, headers = _parse_headers(head)

    async def stream() -> AsyncIterator[bytes]:
        assert proc.stdout is not None
        try:
            if rest:
                yield rest
            while chunk := await proc.stdout.read(CHUNK):
                yield chunk
        finally:
            await _reap(proc, feeder)
            message = (await errors).strip()
            if message:
                log.info("git http-backend: %s", message[-500:])

    return CgiResponse(status, headers, stream())


async def _read_stderr(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    data = await proc.stderr.read(64 * 1024)
    while await proc.stderr.read(CHUNK):
        pass  # keep draining so the backend never blocks on a full pipe
    return data.decode(errors="replace")


async def _reap(proc: asyncio.subprocess.Process, feeder: asyncio.Task[None]) -> None:
    """Wait for the backend; a client that went away leaves nothing running."""
    if proc.returncode is None:
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.CancelledError):
                await proc.wait()
    feeder.cancel()
    with contextlib.suppress(asyncio.CancelledError, RoostError):
        await feeder
