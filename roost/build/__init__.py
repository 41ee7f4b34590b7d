"""Builds: Heroku classic buildpacks turn an app's source into a slug in the object store.

The service entry point is :func:`run_build`; :func:`pack_source` packs a directory for
upload and :func:`safe_unpack` unpacks source archives and slugs without letting an
entry escape its target.
"""

from __future__ import annotations

from roost.build.archive import UnsafeArchive, pack_dir, pack_source, safe_unpack
from roost.build.fetch import BUILTINS
from roost.build.procfile import parse_procfile
from roost.build.service import (
    STACK,
    BuildLimits,
    BuildResult,
    prune_caches,
    prune_slugs,
    remove_build_dir,
    run_build,
    slug_key,
    unpack_slug,
)

__all__ = [
    "BUILTINS", "STACK", "BuildLimits", "BuildResult", "UnsafeArchive", "pack_dir",
    "pack_source", "parse_procfile", "prune_caches", "prune_slugs",
    "remove_build_dir", "run_build", "safe_unpack", "slug_key", "unpack_slug",
]
