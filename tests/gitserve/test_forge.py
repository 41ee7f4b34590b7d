"""Forge webhook signatures and push payloads, at the wire format each forge sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from roost.errors import InvalidInput, Unauthorized
from roost.gitserve.forge import Forbidden, PushEvent, parse_push, sign, verify

SECRET = "s3cret"
SHA = "a" * 40
BODY = json.dumps({"ref": "refs/heads/main", "after": SHA,
                   "repository": {"clone_url": "https://git.example/o/r.git"}}).encode()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_github_signature_is_hmac_sha256_of_the_body_with_prefix() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    verify("github", SECRET, {"x-hub-signature-256": f"sha256={digest}"}, BODY)
    assert sign("github", SECRET, BODY)["X-Hub-Signature-256"] == f"sha256={digest}"


def test_gitea_signature_is_bare_hex_hmac() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    verify("gitea", SECRET, {"x-gitea-signature": digest}, BODY)


def test_gitlab_sends_the_secret_itself() -> None:
    verify("gitlab", SECRET, {"x-gitlab-token": SECRET}, BODY)


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
def test_unsigned_is_401_and_wrongly_signed_is_403(provider: str) -> None:
    with pytest.raises(Unauthorized, match="unsigned webhook"):
        verify(provider, SECRET, {}, BODY)
    with pytest.raises(Forbidden, match="does not match") as caught:
        verify(provider, SECRET, lower(sign(provider, "other", BODY)), BODY)
    assert caught.value.status == 403
    tampered = BODY.replace(b"main", b"mair")
    if provider != "gitlab":  # GitLab's token does not cover the body
        with pytest.raises(Forbidden):
            verify(provider, SECRET, lower(sign(provider, SECRET, BODY)), tampered)


def test_push_payloads_of_each_forge() -> None:
    assert parse_push("github", BODY) == PushEvent("main", SHA, "https://git.example/o/r.git")
    gitea = json.dumps({"ref": "refs/heads/prod", "after": SHA,
                        "repository": {"clone_url": "http://127.0.0.1:3000/o/r.git"}})
    assert parse_push("gitea", gitea.encode()) == PushEvent(
        "prod", SHA, "http://127.0.0.1:3000/o/r.git")
    gitlab = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "after": "b" * 40,
                         "checkout_sha": SHA,
                         "project": {"git_http_url": "https://gitlab.example/o/r.git"}})
    assert parse_push("gitlab", gitlab.encode()) == PushEvent(
        "main", SHA, "https://gitlab.example/o/r.git")
    form = urlencode({"payload": BODY.decode()}).encode()  # GitHub's form content type
    assert parse_push("github", form) == parse_push("github", BODY)


def test_tag_pushes_and_deletions_deploy_nothing() -> None:
    tag = BODY.replace(b"refs/heads/main", b"refs/tags/v1")
    assert parse_push("github", tag) is None
    assert parse_push("github", BODY.replace(SHA.encode(), b"0" * 40)) is None


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "file:///etc", "ssh://x/y",
                                 "--upload-pack=touch /tmp/x"])
def test_only_http_repository_urls_are_fetched(url: str) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": SHA,
                       "repository": {"clone_url": url}}).encode()
    with pytest.raises(InvalidInput, match="not http"):
        parse_push("github", body)


def test_malformed_payload_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="not a github push event"):
        parse_push("github", b"{}")
    with pytest.raises(InvalidInput, match="names no commit"):
        parse_push("github", BODY.replace(SHA.encode(), b"HEAD~1" + b"a" * 34))


def test_credentials_in_a_repository_url_are_never_shown() -> None:
    from roost.gitserve.forgehooks import shown

    assert shown("https://bot:ghp_secret@github.com/o/r.git") == "https://github.com/o/r.git"
    assert shown("http://u@127.0.0.1:3000/o/r.git") == "http://127.0.0.1:3000/o/r.git"
    assert shown("https://github.com/o/r.git") == "https://github.com/o/r.git"
