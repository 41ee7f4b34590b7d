"""A local wheelhouse so that builds of the Python example install gunicorn offline.

The wheel is repacked from the test venv's own installed copy and reached through
PIP_* config vars, so tests never depend on PyPI being up.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def repack_wheel(dist_name: str, out_dir: Path) -> Path:
    """A py3-none-any wheel rebuilt from an installed pure-Python distribution."""
    dist = importlib.metadata.distribution(dist_name)
    files = [str(f) for f in dist.files or []]
    info_dir = next(f.rsplit("/", 1)[0] for f in files if f.endswith(".dist-info/METADATA"))
    name = info_dir.removesuffix(".dist-info")
    whl = out_dir / f"{name}-py3-none-any.whl"
    skip = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
    records = []
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            if rel.startswith("..") or "__pycache__" in rel or rel.endswith(skip):
                continue
            data = Path(str(dist.locate_file(rel))).read_bytes()
            zf.writestr(rel, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{rel},sha256={digest.decode()},{len(data)}")
        records.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(records) + "\n")
    return whl


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Config vars that make pip install the example's pins from a local wheelhouse."""
    pinned = (EXAMPLES / "python-app" / "requirements.txt").read_text().strip()
    installed = f"gunicorn=={importlib.metadata.version('gunicorn')}"
    assert pinned == installed, (
        f"examples/python-app pins {pinned} but the dev venv has {installed}: keep them in step")
    house = tmp_path_factory.mktemp("wheelhouse")
    house.chmod(0o755)  # builds run as an unprivileged build user when the tests run as root
    repack_wheel("gunicorn", house)
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house)}


