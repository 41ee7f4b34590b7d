"""Object names for static files: content hashes, pre-digested names, types and caching.

A file is stored under a name that changes whenever its bytes change, so the name can
be cached for a year. Bundlers already do this (Sprockets, Propshaft, webpack, Vite,
Django's ManifestStaticFilesStorage); their names are kept as they are, because their
own files refer to each other by those names. The rule for "already digested" is:

* a token ``T`` in the base name, preceded by ``-`` or ``.`` (with something before
  it) and followed by ``.`` (so an extension follows), where ``T`` is either
  - hex: 8 to 64 characters of ``[0-9a-f]`` with at least one digit (Sprockets
    ``-<64 hex>``, Propshaft ``-<8 hex>``, webpack ``.<20 hex>.``, Django ``.<12 hex>.``), or
  - base64url: exactly 8 characters of ``[A-Za-z0-9_-]`` (Rollup/Vite ``-[hash]``) holding
    a digit, ``_``, ``-`` or an upper-case letter after the first character, so plain
    words (``settings``, ``Settings``) do not count;
* or the name contains ``.digested.`` (Propshaft's marker).

A false positive (``report-20240101.pdf``) is harmless: the name is kept, and if a key
of that name already holds other bytes the publisher adds our hash after all.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re

HASH_CHARS = 10
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"

_HEX = re.compile(r"[0-9a-f]{8,64}")
_B64 = re.compile(r"[A-Za-z0-9_-]{8}")

# Types where the platform's mimetypes table is missing or wrong on some systems.
FIXED_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".ico": "image/vnd.microsoft.icon",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
COMPRESSIBLE = frozenset({
    ".css", ".js", ".mjs", ".cjs", ".svg", ".json", ".map", ".webmanifest", ".html", ".htm",
    ".txt", ".xml", ".wasm", ".ttf", ".otf", ".eot", ".ico",
})
FONT_EXTS = frozenset({".woff", ".woff2", ".ttf", ".otf", ".eot"})


def extension(name: str) -> str:
    """The last extension of ``name``, lower-cased (``''`` for none or a dotfile)."""
    base = posixpath.basename(name)
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def content_type(name: str) -> str:
    """The Content-Type to serve ``name`` with."""
    ext = extension(name)
    if ext in FIXED_TYPES:
        return FIXED_TYPES[ext]
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if guessed and not encoding:
        return guessed
    return "application/octet-stream"


def compressible(name: str) -> bool:
    """Whether ``name`` is a text-like type worth storing gzip and brotli variants for."""
    return extension(name) in COMPRESSIBLE


def _is_digest(token: str) -> bool:
    if _HEX.fullmatch(token):
        return any(c.isdigit() for c in token)
    if len(token) == 8 and _B64.fullmatch(token):
        return any(c.isdigit() or c in "_-" for c in token) or (
            any(c.isupper() for c in token[1:]) and any(c.islower() for c in token))
    return False


def has_digest(name: str) -> bool:
    """Whether the base name of ``name`` already carries a content digest (see module doc)."""
    base = posixpath.basename(name)
    if ".digested." in base:
        return True
    for dot, char in enumerate(base):
        if char != ".":
            continue
        # The token ends at this dot and starts right after a '-' or '.' that is not
        # the first character of the name.
        for start in range(max(2, dot - 64), dot - 7):
            if base[start - 1] in "-." and _is_digest(base[start:dot]):
                return True
    return False


def hashed_name(path: str, sha256: str) -> str:
    """``path`` with ``HASH_CHARS`` hex digits of ``sha256`` before its last extension.

    ``css/app.css`` -> ``css/app.3f2a9c1b07.css``; ``LICENSE`` -> ``LICENSE.3f2a9c1b07``.
    """
    digest = sha256[:HASH_CHARS]
    folder, base = posixpath.split(path)
    dot = base.rfind(".")
    new = f"{base[:dot]}.{digest}{base[dot:]}" if dot > 0 else f"{base}.{digest}"
    return posixpath.join(folder, new) if folder else new
