"""The build records the lockfiles `roost vulns scan` finds, so a deploy's scan sees them all."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from roost.monitor.vulns import import_path, scan_app, scan_directory
from roost.store.session import make_sessionmaker, transaction
from tests.build.conftest import Builder
from tests.monitor.vulns.lockfile_app import FILES, LOCKFILES, advisories, write_app
from tests.monitor.vulns.osvdata import write_dir


def test_build_records_the_lockfiles_vulns_scan_discovers(builder: Builder, engine: Engine,
                                                          tmp_path: Path) -> None:
    result = builder(FILES)
    assert result.buildpacks_used == ["procfile"]
    assert result.lockfiles == LOCKFILES

    factory = make_sessionmaker(engine)
    import_path(factory, write_dir(tmp_path / "osv", advisories()))
    source = write_app(tmp_path / "shop")
    with factory() as session:
        local = scan_directory(source, session)
    assert local.lockfiles == result.lockfiles
    assert len(local.findings) == 8

    # The after-deploy scan reads exactly the lockfiles the build recorded.
    with transaction(factory) as session:
        deployed = scan_app(session, "shop", [result.build_dir / rel for rel in result.lockfiles],
                            root=result.build_dir)
    assert sorted(f.id for f in deployed.findings) == sorted(f.id for f in local.findings)
    assert sorted(deployed.lockfiles) == LOCKFILES
