"""Build benchmark: Roost's engine on examples/python-app against a plain venv + pip install.

Measured in the same run, on the same host interpreter and pip configuration:
  engine cold    run_build with empty build and pip caches
  engine warm    run_build after changing one source file (caches kept), median of N
  plain cold     python -m venv && pip install -r requirements.txt, empty pip cache
  plain warm     the same into a fresh venv with the pip cache kept, median of N
Target: engine warm <= 1.5 x plain warm.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roost.build import BuildLimits, pack_source, run_build
from roost.build.proc import DEFAULT_PATH
from roost.objectstore import open_store

APP = Path(__file__).resolve().parent.parent / "examples" / "python-app"
RUNS = 3


def engine(root: Path) -> tuple[float, list[float]]:
    """Cold build, then warm rebuilds each with one changed source file."""
    store = open_store(f"file://{root / 'store'}")
    src_dir = root / "src"
    shutil.copytree(APP, src_dir)

    def build(tag: str) -> float:
        archive = pack_source(src_dir, root / f"{tag}.tgz")
        start = time.perf_counter()
        result = run_build(archive, "bench", {}, [], store, root / "work", root / "cache",
                           lambda _line: None, BuildLimits())
        elapsed = time.perf_counter() - start
        shutil.rmtree(result.build_dir.parent)
        return elapsed

    cold = build("cold")
    warm = []
    for i in range(RUNS):
        with (src_dir / "app.py").open("a") as fh:
            fh.write(f"\n# change {i}\n")
        warm.append(build(f"warm{i}"))
    return cold, warm


def plain(root: Path) -> tuple[float, list[float]]:
    """python -m venv && pip install -r requirements.txt, cold then warm pip cache."""
    python = shutil.which("python3", path=DEFAULT_PATH) or "python3"
    env = {"PATH": DEFAULT_PATH, "HOME": str(root / "home"), "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": str(root / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def install(tag: str) -> float:
        venv = root / f"venv-{tag}"
        start = time.perf_counter()
        subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r",
                        str(APP / "requirements.txt")], check=True, env=env)
        return time.perf_counter() - start

    cold = install("cold")
    return cold, [install(f"warm{i}") for i in range(RUNS)]


def main() -> None:
    """Run both, print the figures side by side."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        root = Path(tmp)
        e_cold, e_warm = engine(root / "engine")
        p_cold, p_warm = plain(root / "plain")
    ew, pw = statistics.median(e_warm), statistics.median(p_warm)
    print(f"python-app build, {RUNS} warm runs each (median)")
    print(f"  roost engine   cold {e_cold:6.2f}s   warm (1 file changed) {ew:6.2f}s")
    print(f"  venv + pip     cold {p_cold:6.2f}s   warm (pip cache kept)  {pw:6.2f}s")
    ratio = ew / pw
    verdict = "meets" if ratio <= 1.5 else "MISSES"
    print(f"  warm ratio roost/plain = {ratio:.2f}x ({verdict} the 1.5x target)")
    sys.exit(0)


if __name__ == "__main__":
    main()
