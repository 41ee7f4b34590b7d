"""Find dependency lockfiles in a built app (the vulnerability scanner reads them)."""

from __future__ import annotations

import os
from pathlib import Path

LOCKFILE_NAMES = frozenset({
    "Gemfile.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "requirements.txt",
    "poetry.lock", "Pipfile.lock", "uv.lock",
})
# Dependencies' own lockfiles are not the app's; neither are tool caches.
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".cache",
                       "vendor", ".heroku", ".npm"})


def find_lockfiles(root: Path, max_depth: int = 4) -> list[str]:
    """Relative paths of lockfiles under ``root``, sorted, skipping installed dependencies."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and depth < max_depth]
        for name in filenames:
            if name in LOCKFILE_NAMES:
                found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(found)
