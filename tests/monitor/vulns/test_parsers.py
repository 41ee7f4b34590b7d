"""Lockfile parsers, table-driven over real-looking fixtures of every format version."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.errors import ParseError
from roost.monitor.vulns.lockfiles import (
    find_lockfiles,
    lockfile_names,
    parse_lockfile,
    parse_text,
)

FIXTURES = Path(__file__).parent / "fixtures"

# (fixture, ecosystem, {(name, version, dev, evaluated)})
CASES: list[tuple[str, str, set[tuple[str, str, bool, bool]]]] = [
    ("ruby/Gemfile.lock", "RubyGems", {
        ("activesupport", "7.2.0.alpha", False, False),
        ("billing", "0.1.0", False, False),
        ("concurrent-ruby", "1.2.2", False, True),
        ("i18n", "1.14.1", False, True),
        ("mini_portile2", "2.8.5", False, True),
        ("nokogiri", "1.16.0", False, True),
        ("racc", "1.7.3", False, True),
        ("rack", "2.2.8", False, True),
        ("rails-html-sanitizer", "1.6.0.rc1", False, True),
        ("sqlite3", "1.7.0", False, True),
    }),
    ("npm/v1/package-lock.json", "npm", {
        ("@babel/code-frame", "7.12.13", True, True),
        ("express", "4.17.1", False, True),
        ("qs", "6.7.0", False, True),
        ("qs", "6.11.0", False, True),
        ("string-width", "4.2.3", False, True),
        ("left-pad", "github:stevemao/left-pad#5ab0c4e", False, False),
    }),
    ("npm/v2/package-lock.json", "npm", {
        ("lodash", "4.17.20", False, True),
        ("jest", "27.5.1", True, True),
        ("minimist", "1.2.5", True, True),
    }),
    ("npm/v3/package-lock.json", "npm", {
        ("@types/node", "20.11.5", False, True),
        ("eslint", "8.57.0", True, True),
        ("semver", "7.5.1", True, True),
        ("semver", "7.6.0", False, True),
        ("strip-ansi", "6.0.1", False, True),
        ("webpack", "5.90.0-beta.1", False, True),
    }),
    ("yarn/v1/yarn.lock", "npm", {
        ("@babel/code-frame", "7.12.13", False, True),
        ("lodash", "4.17.19", False, True),
        ("string-width", "4.2.3", False, True),
        ("my-fork", "1.2.0", False, False),
    }),
    ("yarn/berry/yarn.lock", "npm", {
        ("@babel/code-frame", "7.12.13", False, True),
        ("lodash", "4.17.19", False, True),
        ("resolve", "1.22.8", False, True),
        ("string-width", "4.2.3", False, True),
        ("my-fork", "https://github.com/acme/my-fork.git#commit=0123456789abcdef", False, False),
    }),
    ("pnpm/v5/pnpm-lock.yaml", "npm", {
        ("@types/react", "18.0.28", True, True),
        ("csstype", "3.1.1", True, True),
        ("react-dom", "18.2.0", False, True),
        ("react", "18.2.0", False, True),
        ("scheduler", "0.23.0", False, True),
        ("typescript", "4.9.5", True, True),
        ("widget", "2.0.0", False, False),
    }),
    ("pnpm/v6/pnpm-lock.yaml", "npm", {
        ("@tanstack/query-core", "4.29.5", False, True),
        ("@tanstack/react-query", "4.29.5", False, True),
        ("react", "18.2.0", False, True),
        ("vite", "4.3.9", True, True),
    }),
    ("pnpm/v9/pnpm-lock.yaml", "npm", {
        ("@types/node", "20.11.5", True, True),
        ("express", "4.18.2", False, True),
        ("qs", "6.11.0", False, True),
        ("strip-ansi", "6.0.1", False, True),
        ("tinypool", "0.8.2", True, True),
        ("vitest", "1.2.0", True, True),
    }),
    ("python/reqs/requirements.txt", "PyPI", {
        ("jinja2", "2.11.2", False, True),
        ("markupsafe", "2.0.1", False, True),
        ("django", "4.2.1", False, True),
        ("zope-interface", "5.4.0", False, True),
        ("requests", ">=2.10.0", False, False),
        ("urllib3", "1.26.5", False, True),
        ("psycopg", "3.1.12", False, True),
        ("torch", "2.0.0+cpu", False, True),
        ("numpy", "==1.*", False, False),
        ("toolkit", "git+https://github.com/acme/toolkit.git@v1.0#egg=toolkit", False, False),
        ("private-1-0-py3-none-any-whl",
         "https://example.com/wheels/private-1.0-py3-none-any.whl", False, False),
        ("celery", "5.2.3", False, True),
    }),
    ("python/poetry.lock", "PyPI", {
        ("certifi", "2022.12.7", False, True),
        ("pygments", "2.14.0", True, True),
        ("my-lib", "0.3.0", False, False),
    }),
    ("python/Pipfile.lock", "PyPI", {
        ("flask", "2.3.2", False, True),
        ("werkzeug", "2.3.6", False, True),
        ("toolkit", "https://github.com/acme/toolkit.git", False, False),
        ("pytest", "7.4.0", True, True),
    }),
    ("python/uv.lock", "PyPI", {
        ("anyio", "4.2.0", False, True),
        ("idna", "3.6", False, True),
        ("sniffio", "1.3.0", False, True),
        ("iniconfig", "2.0.0", True, True),
        ("pytest", "7.4.0", True, True),
        ("private-sdk", "1.0.0", False, False),
    }),
]


@pytest.mark.parametrize(("fixture", "ecosystem", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parser(fixture: str, ecosystem: str, expected: set[tuple[str, str, bool, bool]]) -> None:
    deps = parse_lockfile(FIXTURES / fixture, FIXTURES)
    assert {(d.name, d.version, d.dev, d.evaluated) for d in deps} == expected
    assert {d.ecosystem for d in deps} == {ecosystem}
    assert all(d.lockfile.startswith(fixture.split("/")[0]) for d in deps)
    assert all(d.note for d in deps if not d.evaluated)


def test_lines_point_at_the_entry() -> None:
    text = (FIXTURES / "ruby/Gemfile.lock").read_text().splitlines()
    for d in parse_lockfile(FIXTURES / "ruby/Gemfile.lock"):
        assert d.line is not None and f"{d.name} (" in text[d.line - 1]
    text = (FIXTURES / "npm/v3/package-lock.json").read_text().splitlines()
    for d in parse_lockfile(FIXTURES / "npm/v3/package-lock.json"):
        assert d.line is not None and "node_modules/" in text[d.line - 1]
    text = (FIXTURES / "python/reqs/requirements.txt").read_text().splitlines()
    urllib3 = next(d for d in parse_lockfile(FIXTURES / "python/reqs/requirements.txt")
                   if d.name == "urllib3")
    assert urllib3.line is not None and text[urllib3.line - 1].startswith("urllib3==")


# (file name, content, expected line in the error)
BROKEN = [
    ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack 2.2.8\n", 4),
    ("Gemfile.lock", "hello world\n", 1),
    ("Gemfile.lock", "PLATFORMS\n  ruby\n", 1),
    ("package-lock.json", '{\n  "lockfileVersion": 3,\n  "packages": {\n    "a": 1,\n', 5),
    ("package-lock.json", '{\n  "name": "x",\n  "lockfileVersion": 7\n}\n', 3),
    ("package-lock.json", '{"lockfileVersion": 1, "dependencies": {"a": {"dev": true}}}', 1),
    ("package-lock.json", "[]", 1),
    ("yarn.lock", "# yarn lockfile v1\n\nlodash@^4:\n  version \"4.17.21\"\n  ??? what\n", 5),
    ("yarn.lock", "# yarn lockfile v1\n\nlodash@^4:\n  resolved \"https://x\"\n", 3),
    ("yarn.lock", "just some text\n", 1),
    ("yarn.lock", '__metadata:\n  version: 8\n\n"a@npm:^1":\n  version: 1.0.0\n  bad: [\n', 7),
    ("pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0: [unclosed\n", 4),
    ("pnpm-lock.yaml", "lockfileVersion: '3.0'\n", 1),
    ("requirements.txt", "flask==2.0\nthis is not a requirement!\n", 2),
    ("requirements.txt", "-r missing.txt\n", 1),
    ("poetry.lock", '[[package]]\nname = "a"\nversion = \n', 3),
    ("poetry.lock", '[[package]]\nname = "a"\n', 1),
    ("Pipfile.lock", '{\n  "_meta": {},\n  "default": {\n    "a": {"version": "==1"},\n  }\n}\n',
     5),
    ("Pipfile.lock", '{"default": {}}', 1),
    ("uv.lock", 'version = 1\n[[package]]\nname = "a"\nversion = "1.0\n', 4),
    ("uv.lock", '[[package]]\nname = "a"\n', 1),
]


@pytest.mark.parametrize(("name", "content", "line"), BROKEN)
def test_unparseable_file_is_an_error_with_file_and_line(tmp_path: Path, name: str,
                                                         content: str, line: int) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ParseError) as info:
        parse_lockfile(tmp_path / name, tmp_path)
    assert info.value.path == name
    assert info.value.line == line
    assert f"{name}:{line}" in str(info.value)


def test_binary_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "yarn.lock").write_bytes(b"lodash@^4:\n  version \"1\"\n\xff\xfe\x00")
    with pytest.raises(ParseError, match="yarn.lock:3"):
        parse_lockfile(tmp_path / "yarn.lock", tmp_path)


def test_empty_requirements_is_empty_not_an_error() -> None:
    assert parse_text("requirements.txt", "# nothing pinned yet\n\n") == []


def test_find_lockfiles_skips_vendored_trees(tmp_path: Path) -> None:
    for rel in ["Gemfile.lock", "web/package-lock.json", "web/node_modules/x/package-lock.json",
                ".git/yarn.lock", ".venv/lib/requirements.txt", "svc/requirements-dev.txt",
                "svc/uv.lock", "docs/notes.txt", "svc/pyproject.toml"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    found = [str(p.relative_to(tmp_path)) for p in find_lockfiles(tmp_path)]
    assert found == ["Gemfile.lock", "svc/requirements-dev.txt", "svc/uv.lock",
                     "web/package-lock.json"]


def test_discovery_names_every_lockfile_roost_reads_and_skips_links(tmp_path: Path) -> None:
    for rel in ["gems.locked", "npm-shrinkwrap.json", "requirements-prod.txt",
                "vendor/bundle/ruby/3.2.0/gems/x/Gemfile.lock", ".heroku/python/requirements.txt",
                "a/b/c/d/e/poetry.lock"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("s3cret\n")
    (tmp_path / "requirements.txt").symlink_to(outside)
    assert lockfile_names(tmp_path) == ["a/b/c/d/e/poetry.lock", "gems.locked",
                                        "npm-shrinkwrap.json", "requirements-prod.txt"]


def test_includes_stay_inside_a_built_app(tmp_path: Path) -> None:
    # An app's build is untrusted: `-r` must not make the platform read (and show back) a
    # file outside the app. A user's `roost vulns scan` of their checkout follows it.
    (tmp_path / "common.txt").write_text("django==3.2.1\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("-r ../common.txt\n")
    assert [d.name for d in parse_lockfile(app / "requirements.txt", app)] == ["django"]
    with pytest.raises(ParseError, match="outside the app") as info:
        parse_lockfile(app / "requirements.txt", app, confined=True)
    assert info.value.line == 1
