"""The asset manifest: logical path -> URL, plus the keys a release needs kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from roost.errors import ParseError

MANIFEST_VERSION = 1
MANIFEST_RELPATH = ".roost/assets-manifest.json"
"""Where the manifest is written inside the release (the app's ``ROOST_ASSET_MANIFEST``)."""
MANIFESTS_DIR = "manifests"
_MANIFEST_KEY = re.compile(r"manifests/v([0-9]+)\.json")
VARIANT_SUFFIX = {"br": ".br", "gzip": ".gz"}
"""Pre-compressed variants by Content-Encoding, stored as sidecar keys (``<key>.br``)."""


def app_prefix(app: str) -> str:
    """The key prefix holding every object of ``app`` (the app name is checked by callers)."""
    return f"assets/{app}/"


def manifest_rel_key(release: int) -> str:
    """The manifest's key relative to the app prefix."""
    return f"{MANIFESTS_DIR}/v{release}.json"


def manifest_release(rel_key: str) -> int | None:
    """The release number if ``rel_key`` (relative to the app prefix) is a manifest."""
    match = _MANIFEST_KEY.fullmatch(rel_key)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Stored:
    """One stored object: its sha256 and size (sha256 may be unknown for old variants)."""

    sha256: str | None
    size: int


@dataclass
class Entry:
    """One published file: where it lives (relative to the app prefix) and its variants."""

    key: str
    sha256: str
    size: int
    content_type: str
    variants: dict[str, Stored] = field(default_factory=dict)

    def all_keys(self) -> list[str]:
        """The object's key and its variants' keys."""
        return [self.key] + [self.key + VARIANT_SUFFIX[enc] for enc in sorted(self.variants)]


@dataclass
class Manifest:
    """What one release published."""

    app: str
    release: int
    created_at: datetime
    base_url: str
    entries: dict[str, Entry] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """The public URL of the logical ``path``."""
        return self.base_url + quote(self.entries[path].key)

    def files(self) -> dict[str, str]:
        """Logical path -> URL, for the app."""
        return {path: self.url(path) for path in sorted(self.entries)}

    def keys(self) -> set[str]:
        """Every key this release needs, relative to the app prefix (variants included)."""
        return {key for entry in self.entries.values() for key in entry.all_keys()}

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON document."""
        return {
            "version": MANIFEST_VERSION,
            "app": self.app,
            "release": self.release,
            "created_at": self.created_at.isoformat(),
            "base_url": self.base_url,
            "files": self.files(),
            "entries": {
                path: {
                    "key": e.key, "sha256": e.sha256, "size": e.size,
                    "content_type": e.content_type,
                    "variants": {enc: {"sha256": v.sha256, "size": v.size}
                                 for enc, v in sorted(e.variants.items())},
                }
                for path, e in sorted(self.entries.items())
            },
            "keys": sorted(self.keys()),
        }

    def dumps(self) -> bytes:
        """The manifest serialised."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest; raise ParseError naming ``where`` when it is not one."""
        try:
            doc = json.loads(data)
            if doc.get("version") != MANIFEST_VERSION:
                raise ValueError(f"unknown manifest version {doc.get('version')!r}")
            entries = {
                path: Entry(
                    key=e["key"], sha256=e["sha256"], size=int(e["size"]),
                    content_type=e["content_type"],
                    variants={enc: Stored(v.get("sha256"), int(v["size"]))
                              for enc, v in e.get("variants", {}).items()
                              if enc in VARIANT_SUFFIX},
                )
                for path, e in doc["entries"].items()
            }
            return cls(app=doc["app"], release=int(doc["release"]),
                       created_at=datetime.fromisoformat(doc["created_at"]),
                       base_url=doc["base_url"], entries=entries)
        except json.JSONDecodeError as exc:
            raise ParseError(where, exc.lineno, exc.msg) from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ParseError(where, None, f"not an asset manifest: {exc!r}") from exc

    def write(self, release_dir: Path) -> str:
        """Write the manifest into the release; return its path relative to ``release_dir``."""
        target = release_dir / MANIFEST_RELPATH
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(self.dumps())
        tmp.replace(target)
        return MANIFEST_RELPATH
