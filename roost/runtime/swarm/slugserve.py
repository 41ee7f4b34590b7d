"""Slug downloads (and build uploads) for swarm tasks: one small HTTP endpoint, each URL
signed for one object.

Tasks run on other machines and cannot read this host's object store, so Roost serves
``GET /slug/KEY?t=TOKEN`` on ``ROOST_SWARM_SLUG_LISTEN``; the token is an HMAC of the key
with a key derived from Roost's secret key, so a URL opens that slug and nothing else. Every
control-plane instance shares that secret (it decrypts config vars too), so each one's slug
server accepts the same token: a task gets the slug URL of every live instance and tries them
in turn, and a task rescheduled after the host that deployed it died still starts.
The routers pull their configuration (certificates for custom domains included) from
``GET /router/config`` with a bearer token only their secret holds (certs.py).
Build tasks also upload: ``PUT /put/KEY?e=EXPIRY&m=MAX&t=TOKEN`` writes one object, at most
MAX bytes, until EXPIRY (the build's deadline), so a URL a buildpack kept cannot overwrite
a slug after its build ended.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from roost.objectstore import ObjectStore

log = logging.getLogger("roost.swarm.slugs")
DOWNLOADS = ("slugs/", "builds/", "buildcache/")  # what a signed GET may open
UPLOADS = ("slugs/", "builds/", "buildcache/")  # what a signed PUT may write
WRITE_ONCE = ("slugs/", "builds/")  # a kept URL cannot replace a slug once it is uploaded
ROUTER_CONFIG_PATH = "/router/config"  # what the routers pull (with the bearer token)


def signing_key(secret_key: bytes) -> bytes:
    """The HMAC key of slug URLs, derived from Roost's secret key (shared by every host)."""
    return hmac.new(secret_key, b"roost swarm slug urls v1", hashlib.sha256).digest()


def legacy_key(home: Path) -> bytes | None:
    """The per-host key earlier versions kept in the home, still accepted for the tasks whose
    URLs were signed with it (None when there is none)."""
    try:
        return (home / "swarm-slug.key").read_bytes() or None
    except FileNotFoundError:
        return None


class SlugServer:
    """Serves slugs from the object store to tasks holding a signed URL."""

    @classmethod
    def for_home(cls, listen: str, store: ObjectStore, secret_key: bytes,
                 home: Path) -> SlugServer:
        """The server signing with the key derived from ``secret_key`` (every host's), also
        accepting the per-host key an earlier version kept in ``home``."""
        legacy = legacy_key(home)
        return cls(listen, store, signing_key(secret_key), (legacy,) if legacy else ())

    def __init__(self, listen: str, store: ObjectStore, key: bytes,
                 also_accepted: tuple[bytes, ...] = ()) -> None:
        self.listen = listen
        self.store = store
        self.key = key
        self.also_accepted = also_accepted
        # the slug addresses of the live control-plane instances (set by the cluster)
        self.peers: Callable[[], list[str]] = list
        # The routers' configuration, certificates and keys included (set with HTTPS).
        self.router_config: Callable[[], dict[str, Any]] | None = None
        self._server: ThreadingHTTPServer | None = None

    def token(self, slug_key: str, key: bytes | None = None) -> str:
        """The token that opens ``slug_key``."""
        return hmac.new(key or self.key, slug_key.encode(), hashlib.sha256).hexdigest()

    def opens(self, token: str, slug_key: str) -> bool:
        """Whether ``token`` opens ``slug_key`` (signed with our key or an older one)."""
        return any(hmac.compare_digest(token, self.token(slug_key, key))
                   for key in (self.key, *self.also_accepted))

    def url(self, slug_key: str, listen: str = "") -> str:
        """The URL a task downloads ``slug_key`` from (from this host, or ``listen``)."""
        return (f"http://{listen or self.listen}/slug/{quote(slug_key)}"
                f"?t={self.token(slug_key)}")

    def live_peers(self) -> list[str]:
        """The slug addresses of the live control-plane instances ([] when the store cannot
        say)."""
        try:
            return self.peers()
        except Exception as exc:  # the store is down: this host's URL still works
            log.warning("cannot list the other instances' slug servers: %s", exc)
            return []

    def urls(self, slug_key: str) -> list[str]:
        """``slug_key``'s URL on this host, then on every other live instance."""
        addresses = [self.listen] + [a for a in self.live_peers() if a != self.listen]
        return [self.url(slug_key, address) for address in addresses]

    def router_token(self) -> str:
        """The bearer token the routers pull their configuration with (every host's)."""
        return hmac.new(self.key, b"roost swarm router config v1", hashlib.sha256).hexdigest()

    def put_token(self, key: str, expires: int, max_bytes: int) -> str:
        """The token that lets one upload to ``key`` (until ``expires``, at most ``max_bytes``)."""
        return hmac.new(self.key, f"put:{key}:{expires}:{max_bytes}".encode(),
                        hashlib.sha256).hexdigest()

    def put_url(self, key: str, expires: float, max_bytes: int) -> str:
        """The URL a build task uploads ``key`` to (``expires``: a ``time.time()``)."""
        when = int(expires)
        return (f"http://{self.listen}/put/{quote(key)}?e={when}&m={max_bytes}"
                f"&t={self.put_token(key, when, max_bytes)}")

    def start(self) -> None:
        """Listen (in a thread) on ``listen``."""
        host, _, port = self.listen.rpartition(":")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            # Headers and body go out in separate writes: with Nagle's algorithm on, the
            # body would wait for the ACK of the headers (up to 40 ms of delayed ACK).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == ROUTER_CONFIG_PATH:
                    self.router_config()
                    return
                key = unquote(parts.path.removeprefix("/slug/"))
                token = (parse_qs(parts.query).get("t") or [""])[0]
                if not parts.path.startswith("/slug/") or not key.startswith(DOWNLOADS) \
                        or not outer.opens(token, key):
                    self.send_error(403, "no such slug for this token")
                    return
                info = outer.store.head(key)
                if info is None:
                    self.send_error(404, "slug not found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(info.size))
                self.end_headers()
                for chunk in outer.store.stream(key):
                    self.wfile.write(chunk)

            def router_config(self) -> None:
                given = self.headers.get("Authorization") or ""
                if outer.router_config is None or not hmac.compare_digest(
                        given, f"Bearer {outer.router_token()}"):
                    self.send_error(403, "no router configuration for this token")
                    return
                try:
                    body = json.dumps(outer.router_config()).encode()
                except Exception as exc:  # the router keeps what it has and asks again
                    log.warning("the routers' configuration could not be made: %s", exc)
                    self.send_error(503, "the routers' configuration is not available")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                parts = urlsplit(self.path)
                key = unquote(parts.path.removeprefix("/put/"))
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if not parts.path.startswith("/put/") or not key.startswith(UPLOADS):
                    self.send_error(403, "no upload to this key")
                    return
                try:
                    expires, limit = int(query.get("e", "")), int(query.get("m", ""))
                    length = int(self.headers.get("Content-Length") or -1)
                except ValueError:
                    self.send_error(400, "bad upload parameters")
                    return
                if not hmac.compare_digest(query.get("t", ""),
                                           outer.put_token(key, expires, limit)):
                    self.send_error(403, "no upload to this key for this token")
                    return
                if time.time() > expires:
                    self.send_error(403, "this upload URL has expired")
                    return
                if key.startswith(WRITE_ONCE) and outer.store.exists(key):
                    self.send_error(409, "this object is written once and exists already")
                    return
                if not 0 <= length <= limit:
                    self.send_error(413, f"an upload here may have at most {limit} bytes")
                    return
                with tempfile.TemporaryDirectory(prefix="roost-put-") as tmp:
                    path = Path(tmp) / "object"
                    left = length
                    with path.open("wb") as out:
                        while left:
                            chunk = self.rfile.read(min(left, 1 << 20))
                            if not chunk:
                                self.send_error(400, "the upload ended early")
                                return
                            out.write(chunk)
                            left -= len(chunk)
                    outer.store.put(key, path, content_type="application/octet-stream")
                self.send_response(204)
                self.end_headers()

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("slug server: " + fmt, *args)

        self._server = ThreadingHTTPServer((host, int(port)), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="roost-slugs",
                         daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def read_app_json(store: ObjectStore, key: str) -> dict[str, Any]:
    """The app.json at the top of a slug ({} when it has none or it is not an object)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slug.tgz"
        store.download(key, path)
        try:
            with tarfile.open(path) as tar:
                for name in ("app.json", "./app.json"):
                    try:
                        member = tar.getmember(name)
                    except KeyError:
                        continue
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is not None and member.size < 1 << 20:
                        loaded = json.loads(handle.read())
                        return loaded if isinstance(loaded, dict) else {}
        except (tarfile.TarError, ValueError):
            pass
    return {}
