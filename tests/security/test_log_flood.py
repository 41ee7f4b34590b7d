"""Attack: an app prints one enormous line without a newline to grow `roost up`'s memory.

Output is read in pieces of at most 64 KiB; a longer line is split and each piece but the
last is marked `` [line continues]``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import wait_for
from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok
from tests.security.hostile import deploy_hostile, get

FLOOD_MB = 48


def peak_rss_mb(pid: int) -> float:
    """The most memory process ``pid`` has ever held (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_one_endless_line_does_not_grow_roost(server: Server, tmp_path: Path) -> None:
    deploy_hostile(server, tmp_path / "evil")
    assert get(server, "evil.localhost").status_code == 200
    before = peak_rss_mb(server.proc.pid)

    ok(server, "config", "set", "evil", f"FLOOD_MB={FLOOD_MB}")  # a new release floods

    log = server.home / "logs" / "evil.log"
    wait_for(lambda: "flood done" in ok(server, "logs", "evil", "-n", "5"), timeout=120,
             interval=0.5)
    assert peak_rss_mb(server.proc.pid) - before < FLOOD_MB / 3
    tail = ok(server, "logs", "evil", "-n", "3", "--source", "web").splitlines()
    piece, end = [line for line in tail if "hostile app up" not in line][-2:]
    assert piece.endswith("x [line continues]") and end.endswith("flood done")
    assert len(piece.encode()) < 64 * 1024 + 200
    pieces = [p for p in (log.with_suffix(".log.1"), log) if p.exists()]
    marked = sum(text.count("[line continues]") for text in (p.read_text() for p in pieces))
    assert marked >= 20 * 1024 // 64  # the rotated log keeps at least its last 20 MB
    assert get(server, "evil.localhost").json() == {"app": "hostile"}
