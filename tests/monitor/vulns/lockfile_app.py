"""An app whose lockfiles have the less common names (``requirements-prod.txt``,
``gems.locked``, ``npm-shrinkwrap.json``) and eight advisories that concern it.

Used by the build, scan and end-to-end tests: a deploy of this app must report what
``roost vulns scan`` of its directory reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.monitor.vulns.osvdata import record

LOCKFILES = ["gems.locked", "npm-shrinkwrap.json", "requirements-prod.txt"]

GEMS_LOCKED = """\
GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.13.0)
      racc (~> 1.4)
    racc (1.6.0)
    rack (2.2.3)

PLATFORMS
  ruby

DEPENDENCIES
  nokogiri
  rack

BUNDLED WITH
   2.4.10
"""

SHRINKWRAP = json.dumps({
    "name": "shop", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "shop", "dependencies": {"lodash": "^4.17.0", "minimist": "^1.2.0"}},
        "node_modules/lodash": {"version": "4.17.20"},
        "node_modules/minimist": {"version": "1.2.5"},
    },
}, indent=2) + "\n"

FILES = {
    "requirements-prod.txt": "django==3.2.1\nrequests==2.19.0\n",
    "gems.locked": GEMS_LOCKED,
    "npm-shrinkwrap.json": SHRINKWRAP,
    # A dependency's own lockfile is not the app's: discovery must skip it.
    "node_modules/lodash/package-lock.json": '{"lockfileVersion": 3, "packages": {}}\n',
    "Procfile": "web: python3 -m http.server $PORT --bind 127.0.0.1\n",
}


def advisories() -> list[dict[str, Any]]:
    """Eight advisories, each affecting one package of the app (no aliases between them)."""
    def fixed_in(version: str) -> list[dict[str, str]]:
        return [{"introduced": "0"}, {"fixed": version}]

    return [
        record("PYSEC-2021-98", "PyPI", "django", [{"introduced": "3.2"}, {"fixed": "3.2.4"}]),
        record("PYSEC-2021-99", "PyPI", "Django", [{"introduced": "3.2"}, {"fixed": "3.2.5"}]),
        record("PYSEC-2018-28", "PyPI", "requests", fixed_in("2.20.0")),
        record("GHSA-nokogiri-1", "RubyGems", "nokogiri", fixed_in("1.13.4")),
        record("GHSA-nokogiri-2", "RubyGems", "nokogiri", fixed_in("1.16.2")),
        record("GHSA-rack-1", "RubyGems", "rack", fixed_in("2.2.6.2")),
        record("GHSA-lodash-1", "npm", "lodash", fixed_in("4.17.21")),
        record("GHSA-minimist-1", "npm", "minimist", fixed_in("1.2.6")),
    ]


def write_app(root: Path) -> Path:
    """Write the app's files under ``root`` (created) and return it."""
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
