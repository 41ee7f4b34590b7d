"""Forge push webhooks: each forge's signature, and what a push event says.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, event in
  ``X-GitHub-Event`` (``push``; ``ping`` when the hook is created).
- GitLab: ``X-Gitlab-Token: <the secret itself>``, event in ``X-Gitlab-Event`` (``Push Hook``).
- Gitea: ``X-Gitea-Signature: <hex HMAC-SHA256 of the body>``, event in ``X-Gitea-Event``.

The signature is checked over the raw body before anything in it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from roost.errors import InvalidInput, RoostError, Unauthorized

PROVIDERS = ("github", "gitlab", "gitea")
SHA = re.compile(r"^[0-9a-f]{40}$")
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$")


class Forbidden(RoostError):
    """A webhook carried a signature, and it is wrong."""

    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class PushEvent:
    """What Roost needs of a push: the branch, the new commit and where to fetch it."""

    branch: str
    sha: str
    clone_url: str


def check_provider(provider: str) -> str:
    """``provider`` if Roost knows it, else a clear error."""
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown forge {provider!r}: use one of {', '.join(PROVIDERS)}")
    return provider


def check_branch(branch: str) -> str:
    """A plausible branch name (no option-like or path-escaping names)."""
    if not BRANCH.fullmatch(branch) or branch.endswith((".lock", "/")):
        raise InvalidInput(f"invalid branch {branch!r}: give a branch name such as main")
    return branch


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign(provider: str, secret: str, body: bytes) -> dict[str, str]:
    """The headers a forge sends with ``body`` (for tests and `roost apps hook --test`)."""
    if provider == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hmac_hex(secret, body),
                "X-GitHub-Event": "push"}
    if provider == "gitlab":
        return {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}
    return {"X-Gitea-Signature": _hmac_hex(secret, body), "X-Gitea-Event": "push"}


def verify(provider: str, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Raise Unauthorized (401) when the signature is missing, Forbidden (403) when wrong."""
    if provider == "github":
        given = headers.get("x-hub-signature-256", "")
        expected = "sha256=" + _hmac_hex(secret, body)
        name = "X-Hub-Signature-256"
    elif provider == "gitlab":
        given, expected, name = headers.get("x-gitlab-token", ""), secret, "X-Gitlab-Token"
    else:
        given = headers.get("x-gitea-signature", "")
        expected, name = _hmac_hex(secret, body), "X-Gitea-Signature"
    if not given:
        raise Unauthorized(f"unsigned webhook: no {name} header; set the secret that "
                           "`roost apps hook` printed in the forge's webhook settings")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(f"wrong {name}: the webhook's secret does not match; run "
                        "`roost apps hook APP PROVIDER` and set the new secret in the forge")


def event_name(provider: str, headers: Mapping[str, str]) -> str:
    """The event as the forge names it, lower-cased (``push``, ``ping``, ``push hook``)."""
    key = {"github": "x-github-event", "gitlab": "x-gitlab-event", "gitea": "x-gitea-event"}
    return headers.get(key[provider], "").strip().lower()


def is_push(provider: str, event: str) -> bool:
    """Whether the event is a branch push."""
    return event == ("push hook" if provider == "gitlab" else "push")


def parse_push(provider: str, body: bytes) -> PushEvent | None:
    """The push's branch, commit and clone URL; None for a tag push or a branch deletion."""
    try:
        if body.startswith(b"payload="):  # GitHub's form-encoded content type
            body = parse_qs(body.decode()).get("payload", [""])[0].encode()
        data = json.loads(body)
        ref = str(data["ref"])
        sha = str(data.get("checkout_sha") or data["after"]) if provider == "gitlab" \
            else str(data["after"])
        repo = data["project"] if provider == "gitlab" else data["repository"]
        url = str(repo["git_http_url"] if provider == "gitlab" else repo["clone_url"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"not a {provider} push event: {exc.__class__.__name__} "
                           f"{exc}") from None
    if not ref.startswith("refs/heads/") or sha == "0" * 40:
        return None
    if not SHA.fullmatch(sha):
        raise InvalidInput(f"push event names no commit ({sha[:50]!r})")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"repository URL {url[:200]!r} is not http(s): Roost fetches "
                           "pushed commits over HTTP(S) only")
    return PushEvent(branch=ref.removeprefix("refs/heads/"), sha=sha, clone_url=url)
