"""Pointing a stylesheet's references to other static files at their published names.

``url(../fonts/inter.woff2)`` in ``css/app.css`` breaks once the font is stored as
``fonts/inter.3f2a9c1b07.woff2``, so before a stylesheet is hashed its references are
rewritten, as Django's ManifestStaticFilesStorage and Propshaft do:

* ``url(...)`` (bare, ``"..."`` or ``'...'``), ``@import "..."`` / ``@import '...'``
  (``@import url(...)`` is a ``url(...)``) and ``/*# sourceMappingURL=... */`` are
  rewritten when they resolve, relative to the stylesheet's folder, to another file of the
  published set. Only the last path segment changes (``../fonts/inter.woff2`` ->
  ``../fonts/inter.3f2a9c1b07.woff2``); a ``?query`` or ``#fragment`` is kept.
* Left as they are: URLs with a scheme (``http:``, ``https:``, ``data:``...), ``//host``
  URLs, ``#fragment``-only references, references to files outside the set or outside the
  assets folder, and anything inside other ``/* comments */`` or other quoted strings
  (``content: "url(x)"``). Root-relative references (``/fonts/x.woff2``) are left too:
  Django rewrites them only when they start with its ``STATIC_URL``, and Roost does not
  know under which path the app serves its files.
* A stylesheet referring to another rewritten stylesheet needs that one's final name, so
  stylesheets are rewritten depth first, the referenced ones before the referring one. In a
  cycle (``a.css`` imports ``b.css`` which imports ``a.css``) the reference that closes the
  cycle is left unrewritten: no name can include its own hash. Django instead retries up to
  five passes and then fails the whole collectstatic; browsers ignore cyclic imports anyway.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from urllib.parse import quote, unquote

_TOKENS = re.compile(
    rb"""
      /\*[#@]\s*sourceMappingURL=(?P<map>[^\s*]+)\s*\*/
    | (?P<comment>/\*.*?(?:\*/|\Z))
    | \burl\(\s*(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^"'()\s]+))\s*\)
    | @import\s*(?:"(?P<idq>[^"\n]*)"|'(?P<isq>[^'\n]*)')
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_REF_GROUPS = ("dq", "sq", "bare", "idq", "isq", "map")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Characters kept as they are when a published name is put into a URL.
_SAFE = "!$&*+,;=:@-._~"

NameOf = Callable[[str], "str | None"]
"""Logical path -> published key (relative to the app prefix), or None to leave it."""


def resolve(ref: str, css_path: str) -> tuple[str, str, str] | None:
    """The logical path ``ref`` in ``css_path`` points to, with the URL's own path and its
    ``?query#fragment`` tail; None for a reference that is never rewritten (see module doc)."""
    if not ref or ref.startswith(("#", "/", "\\")) or _SCHEME.match(ref):
        return None
    cut = min((i for i in (ref.find("?"), ref.find("#")) if i >= 0), default=len(ref))
    url_path, tail = ref[:cut], ref[cut:]
    if not url_path or url_path.endswith("/"):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(css_path), unquote(url_path)))
    if target == ".." or target.startswith("../") or target.startswith("/"):
        return None
    return target, url_path, tail


def _refs(data: bytes) -> list[tuple[int, int, str]]:
    """Each reference outside comments as (start, end, text) of its URL in ``data``."""
    # Most stylesheets of a re-publish refer to nothing: two substring searches rule them
    # out some twenty times faster than the full expression scans them.
    low = data.lower()
    if b"url(" not in low and b"@import" not in low and b"sourcemappingurl=" not in low:
        return []
    found = []
    for match in _TOKENS.finditer(data):
        if match.group("comment") is not None or match.group("string") is not None:
            continue
        for group in _REF_GROUPS:
            raw = match.group(group)
            if raw is not None:
                try:
                    text = raw.decode("utf-8").strip()
                except UnicodeDecodeError:
                    break  # not a name we could have published
                found.append((match.start(group), match.end(group), text))
                break
    return found


def references(data: bytes, css_path: str) -> list[str]:
    """The logical paths the stylesheet ``css_path`` (holding ``data``) refers to."""
    return _targets(_refs(data), css_path)


def _targets(refs: list[tuple[int, int, str]], css_path: str) -> list[str]:
    out = []
    for _, _, text in refs:
        resolved = resolve(text, css_path)
        if resolved is not None:
            out.append(resolved[0])
    return out


def rewrite(data: bytes, css_path: str, name_of: NameOf) -> bytes:
    """``data`` with every reference to a published file replaced by its published name."""
    return _rewrite(data, _refs(data), css_path, name_of)


def _rewrite(data: bytes, refs: list[tuple[int, int, str]], css_path: str, name_of: NameOf,
             ) -> bytes:
    pieces: list[bytes] = []
    last = 0
    for start, end, text in refs:
        resolved = resolve(text, css_path)
        if resolved is None:
            continue
        target, url_path, tail = resolved
        key = name_of(target)
        if key is None or key == target:
            continue
        head, _, _ = url_path.rpartition("/")
        new_base = quote(posixpath.basename(key), safe=_SAFE)
        new = (head + "/" if "/" in url_path else "") + new_base + tail
        pieces += [data[last:start], new.encode("utf-8")]
        last = end
    if not pieces:
        return data
    pieces.append(data[last:])
    return b"".join(pieces)


def rewrite_all(sheets: dict[str, bytes], keys: dict[str, str],
                name_for: Callable[[str, bytes], str]) -> dict[str, bytes]:
    """Rewrite every stylesheet of ``sheets`` (logical path -> bytes), referenced ones first.

    ``keys`` gives the published key of every other file of the set; ``name_for(path,
    body)`` gives a rewritten stylesheet's key from its final bytes. Returns the final bytes
    of each stylesheet, which are ``data`` itself when nothing in it changed.
    """
    found = {path: _refs(data) for path, data in sheets.items()}
    done: dict[str, bytes] = {}
    final_keys = dict(keys)
    visiting: set[str] = set()

    def name_of(path: str) -> str | None:
        return final_keys.get(path)

    def visit(path: str) -> None:
        # An explicit stack: a long chain of imports must not hit the recursion limit.
        stack: list[tuple[str, list[str]]] = [(path, _pending(path))]
        visiting.add(path)
        while stack:
            current, deps = stack[-1]
            while deps and (deps[-1] in done or deps[-1] in visiting):
                deps.pop()  # done, or in a cycle: its reference is left unrewritten
            if deps:
                dep = deps.pop()
                visiting.add(dep)
                stack.append((dep, _pending(dep)))
                continue
            stack.pop()
            visiting.discard(current)
            body = _rewrite(sheets[current], found[current], current, name_of)
            done[current] = body
            final_keys[current] = name_for(current, body)

    def _pending(path: str) -> list[str]:
        deps = {p for p in _targets(found[path], path) if p in sheets and p != path}
        return sorted(deps, reverse=True)

    for path in sorted(sheets):
        if path not in done:
            visit(path)
    return done
