"""The advisory database: imports from directories, zips and URLs; upserts; statistics."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput, ParseError, RoostError
from roost.monitor.vulns.db import import_path, stats, update_from_sources
from roost.settings import load_settings
from roost.store.models.vulns import Advisory
from roost.store.session import make_sessionmaker
from tests.conftest import free_port
from tests.monitor.vulns.osvdata import record, write_dir, write_zip

HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def _records() -> list[dict[str, object]]:
    return [
        record("PYSEC-2021-1", "PyPI", "Django", [{"introduced": "0"}, {"fixed": "3.2.4"}],
               aliases=("CVE-2021-33203",), vector=HIGH),
        record("GHSA-aaaa-bbbb-cccc", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
               level="MODERATE"),
        record("GHSA-dddd-eeee-ffff", "RubyGems", "nokogiri",
               [{"introduced": "0"}, {"fixed": "1.16.2"}]),
        record("GHSA-gone-gone-gone", "npm", "left-pad", [{"introduced": "0"}],
               withdrawn="2024-02-01T00:00:00Z"),
    ]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(www))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_import_directory_and_stats(factory: sessionmaker[Session], tmp_path: Path) -> None:
    result = import_path(factory, write_dir(tmp_path / "osv", _records()))
    assert (result.added, result.updated, result.unchanged) == (4, 0, 0)
    assert result.changed_keys == {("PyPI", "django"), ("npm", "lodash"),
                                   ("RubyGems", "nokogiri"), ("npm", "left-pad")}
    with factory() as session:
        s = stats(session)
        django = session.get(Advisory, "PYSEC-2021-1")
        assert django is not None and django.severity == "critical" and django.score == 9.8
        lodash = session.get(Advisory, "GHSA-aaaa-bbbb-cccc")
        assert lodash is not None and lodash.severity == "medium"
    assert s.per_ecosystem == {"PyPI": 1, "RubyGems": 1, "npm": 1}
    assert (s.total, s.withdrawn) == (4, 1)
    assert s.last_update is not None and s.sources[0][2] == 4


def test_upsert_only_when_modified_is_newer(factory: sessionmaker[Session],
                                            tmp_path: Path) -> None:
    records = _records()
    import_path(factory, write_dir(tmp_path / "a", records))
    again = import_path(factory, write_dir(tmp_path / "b", records))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert again.changed_keys == set()

    moved = record("GHSA-aaaa-bbbb-cccc", "npm", "lodash-es", [{"introduced": "0"}],
                   modified="2024-03-01T00:00:00Z")
    older = record("GHSA-dddd-eeee-ffff", "RubyGems", "rails", [{"introduced": "0"}],
                   modified="2020-01-01T00:00:00Z")
    result = import_path(factory, write_dir(tmp_path / "c", [moved, older]))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 1)
    # Both the package it left and the one it now names may change findings.
    assert result.changed_keys == {("npm", "lodash"), ("npm", "lodash-es")}
    with factory() as session:
        row = session.get(Advisory, "GHSA-dddd-eeee-ffff")
        assert row is not None and '"nokogiri"' in row.raw


def test_import_zip_and_url(factory: sessionmaker[Session], tmp_path: Path,
                            served: str) -> None:
    write_zip(tmp_path / "www" / "all.zip", _records()[:2])
    write_zip(tmp_path / "local.zip", _records()[2:])
    from_url = import_path(factory, f"{served}/all.zip")
    from_zip = import_path(factory, tmp_path / "local.zip")
    assert from_url.added == 2 and from_zip.added == 2
    with factory() as session:
        ids = set(session.scalars(select(Advisory.id)))
    assert ids == {r["id"] for r in _records()}


def test_update_from_sources(factory: sessionmaker[Session], tmp_path: Path,
                             served: str) -> None:
    write_zip(tmp_path / "www" / "PyPI-all.zip", _records()[:1])
    local = write_dir(tmp_path / "osv", _records()[1:])
    result = update_from_sources(factory, [f"{served}/PyPI-all.zip", str(local)])
    assert result.added == 4 and len(result.sources) == 2
    with factory() as session:
        assert len(stats(session).sources) == 2


def test_download_failure_is_a_roost_error(factory: sessionmaker[Session], served: str) -> None:
    with pytest.raises(RoostError, match="HTTP 404"):
        import_path(factory, f"{served}/missing.zip")


def test_bad_record_names_file_and_line_and_changes_nothing(factory: sessionmaker[Session],
                                                           tmp_path: Path) -> None:
    directory = write_dir(tmp_path / "osv", _records())
    (directory / "ZZZ-broken.json").write_text('{\n  "id": "X",\n  "modified": \n}\n')
    with pytest.raises(ParseError) as info:
        import_path(factory, directory)
    assert info.value.path.endswith("ZZZ-broken.json") and info.value.line == 4
    with factory() as session:
        assert session.scalars(select(Advisory.id)).first() is None


def test_bad_zip_and_missing_source(factory: sessionmaker[Session], tmp_path: Path) -> None:
    (tmp_path / "all.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises((ParseError, InvalidInput)):
        import_path(factory, tmp_path / "all.zip")
    with pytest.raises(InvalidInput):
        import_path(factory, tmp_path / "nowhere")


def test_advisory_sources_come_from_settings(tmp_path: Path) -> None:
    # settings.py is the one reader of ROOST_ADVISORY_SOURCES; the daemon passes its list on.
    home = str(tmp_path / "home")
    assert load_settings({"ROOST_HOME": home}).advisory_sources == [
        f"https://osv-vulnerabilities.storage.googleapis.com/{eco}/all.zip"
        for eco in ("PyPI", "npm", "RubyGems")
    ]
    given = "/a, https://b/all.zip /c"
    assert load_settings({"ROOST_HOME": home, "ROOST_ADVISORY_SOURCES": given}
                         ).advisory_sources == ["/a", "https://b/all.zip", "/c"]
    assert load_settings({"ROOST_HOME": home, "ROOST_ADVISORY_SOURCES": ""}
                         ).advisory_sources == []
