"""Version ordering per ecosystem, table-driven."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from packaging.version import Version

from roost.monitor.vulns.rubygems import parse_gem_version
from roost.monitor.vulns.semver import parse_semver
from roost.monitor.vulns.versions import NPM, PYPI, RUBYGEMS, normalise_name, parse_version

# (ecosystem, a, relation, b)
CASES = [
    (NPM, "1.0.0+build", "==", "1.0.0"),
    (NPM, "1.0.0+build.1", "==", "1.0.0+build.2"),
    (NPM, "1.0.0-beta.11", ">", "1.0.0-beta.2"),
    (NPM, "1.0.0-alpha", "<", "1.0.0-alpha.1"),
    (NPM, "1.0.0-alpha.1", "<", "1.0.0-alpha.beta"),
    (NPM, "1.0.0-alpha.beta", "<", "1.0.0-beta"),
    (NPM, "1.0.0-beta", "<", "1.0.0-beta.2"),
    (NPM, "1.0.0-rc.1", "<", "1.0.0"),
    (NPM, "1.2.4-beta.1", "<", "1.2.5"),
    (NPM, "1.2.4-beta.1", ">", "1.2.3"),
    (NPM, "10.0.0", ">", "9.99.99"),
    (NPM, "v2.0.0", "==", "2.0.0"),
    (PYPI, "1.0", "==", "1.0.0"),
    (PYPI, "1!0.1", ">", "2.0"),
    (PYPI, "1.0.dev1", "<", "1.0a1"),
    (PYPI, "1.0a1", "<", "1.0"),
    (PYPI, "2.0.0+cpu", ">", "2.0.0"),
    (PYPI, "2.0.0+cpu", "<", "2.0.1"),
    (PYPI, "9.1.0", "<", "84.0.0"),
    (PYPI, "1.0.post1", ">", "1.0"),
    (RUBYGEMS, "5.0.0.1", ">", "5.0.0"),
    (RUBYGEMS, "1.0.0.pre", "<", "1.0.0"),
    (RUBYGEMS, "1.0", "==", "1.0.0"),
    (RUBYGEMS, "2.0.0.rc1", ">", "2.0.0.beta2"),
    (RUBYGEMS, "1.0.0.rc1", "<", "1.0.0"),
    (RUBYGEMS, "1.0.0-rc1", "==", "1.0.0.pre.rc1"),
    (RUBYGEMS, "1.10", ">", "1.9"),
    (RUBYGEMS, "7.0.4.3", "<", "7.0.5"),
    (RUBYGEMS, "1.0.a", "<", "1.0.b"),
    (RUBYGEMS, "1.0.0.pre.1", "<", "1.0.0.pre.2"),
]


@pytest.mark.parametrize(("ecosystem", "a", "rel", "b"), CASES)
def test_order(ecosystem: str, a: str, rel: str, b: str) -> None:
    va, vb = parse_version(ecosystem, a), parse_version(ecosystem, b)
    assert va is not None and vb is not None
    if rel == "==":
        assert va == vb and not va < vb and not vb < va
    elif rel == "<":
        assert va < vb and not vb < va and va != vb
    else:
        assert va > vb and not va < vb and va != vb


@pytest.mark.parametrize(("ecosystem", "text"), [
    (NPM, "latest"), (NPM, "1.0"), (NPM, "^1.2.3"), (NPM, "git+https://x/y.git#abc"),
    (PYPI, ">=2.10.0"), (PYPI, "not a version"), (RUBYGEMS, "abc"), (RUBYGEMS, ""),
])
def test_unparseable(ecosystem: str, text: str) -> None:
    assert parse_version(ecosystem, text) is None


@pytest.mark.parametrize(("ecosystem", "a", "b"), [
    (PYPI, "Django", "django"),
    (PYPI, "zope.interface", "zope-interface"),
    (PYPI, "Foo__Bar", "foo-bar"),
])
def test_names_normalised(ecosystem: str, a: str, b: str) -> None:
    assert normalise_name(ecosystem, a) == normalise_name(ecosystem, b)


def test_npm_names_are_case_sensitive() -> None:
    assert normalise_name(NPM, "JSONStream") != normalise_name(NPM, "jsonstream")


# Versions whose every pair is compared below, as parsed keys and by each ecosystem's own
# reference: packaging's Version, RubyGems' segment rules (GemVersion), SemVer 2.0 (SemVer).
KEY_CORPUS = {
    PYPI: ["0", "0.0", "1", "1.0", "1.0.0", "1.0.1", "1.1", "1.10", "1.2", "9.1.0", "84.0.0",
           "1!0.1", "1!1.0", "2!0", "1.0.dev0", "1.0.dev1", "1.0a1", "1.0a1.dev1", "1.0a2",
           "1.0b1", "1.0rc1", "1.0c2", "1.0.post1", "1.0.post1.dev1", "1.0-1", "1.0.post2",
           "1.0a1.post1", "1.0+cpu", "1.0+abc.1", "1.0+abc.2", "1.0+1", "1.0+1.abc",
           "1.0+ubuntu-1", "1.0+01", "2.0.0+cpu", "v1.0", "1.0.0.0.1", "1.0.0.0.0"],
    RUBYGEMS: ["0", "0.0.0", "0.a", "1", "1.0", "1.0.0", "1.0.0.1", "1.0.a", "1.0.b",
               "1.0.0.pre", "1.0.0.pre.1", "1.0.0.pre.2", "1.0.0-rc1", "1.0.0.rc1",
               "1.0.0.pre.rc1", "1.a.0.1", "1.a.1", "1.a", "1.a.b", "1.0.a.0.b", "1.0.a.0.1",
               "1.0.a.1", "2.0.0.beta2", "2.0.0.rc1", "5.0.0", "5.0.0.1", "7.0.4.3", "7.0.5",
               "1.9", "1.10", "1.16.0", "10", "1.0.0.0.1.a"],
    NPM: ["0.0.0", "1.0.0", "1.0.0+build", "1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10",
          "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
          "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-a-b", "1.0.0--", "1.0.0-Z", "1.0.1", "1.2.4",
          "1.2.4-beta.1", "1.2.5", "10.0.0", "9.99.99", "v2.0.0", "2.0.0-1.alpha"],
}


def _reference(ecosystem: str, text: str) -> Any:
    if ecosystem == PYPI:
        return Version(text)
    if ecosystem == RUBYGEMS:
        return parse_gem_version(text)
    return parse_semver(text)


@pytest.mark.parametrize("ecosystem", list(KEY_CORPUS))
def test_keys_order_exactly_as_the_ecosystem_does(ecosystem: str) -> None:
    # Keys are stored as JSON at import and compared at scan time: compare them as decoded.
    corpus = KEY_CORPUS[ecosystem]
    keys = [orjson.loads(orjson.dumps(parse_version(ecosystem, v))) for v in corpus]
    refs = [_reference(ecosystem, v) for v in corpus]
    for a, ka, ra in zip(corpus, keys, refs, strict=True):
        for b, kb, rb in zip(corpus, keys, refs, strict=True):
            assert ((ka < kb), (ka == kb), (ka > kb)) == ((ra < rb), (ra == rb), (ra > rb)), (a, b)
