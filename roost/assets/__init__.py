"""Static asset publishing: content-hashed names in the object store, served by the router
(``file://``) or a bucket/CDN (``s3://``), with a manifest for the app and retention by release.
"""

from __future__ import annotations

from roost.assets.manifest import MANIFEST_RELPATH, Manifest
from roost.assets.publish import Plan, PlannedFile, Progress, PublishResult, publish
from roost.assets.source import find_assets_dir

__all__ = ["MANIFEST_RELPATH", "Manifest", "Plan", "PlannedFile", "Progress", "PublishResult",
           "find_assets_dir", "publish"]
