"""App output is read in bounded pieces."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from roost.build.proc import run_step
from roost.lines import CONTINUES, MAX_LINE, bounded_lines
from roost.runtime.spawn import spawn
from tests.conftest import wait_for

# 3 MB without a newline (with a two-byte character across a piece boundary), then a line.
FLOOD = ("import sys; w = sys.stdout.buffer.write; w(b'a' * (65536 - 1) + 'é'.encode()); "
         "w(b'b' * 3_000_000); w(b'\\nafter\\n'); sys.stdout.flush()")


def check_pieces(lines: list[str]) -> None:
    """The flood arrives as marked pieces of at most MAX_LINE bytes, nothing lost."""
    *pieces, last, after = lines
    assert after == "after" and not last.endswith(CONTINUES)
    assert all(p.endswith(CONTINUES) for p in pieces) and len(pieces) >= 3_000_000 // MAX_LINE
    # (a character cut by a piece's end travels whole with the next piece)
    assert all(len(p.encode()) <= MAX_LINE + 3 + len(CONTINUES) for p in pieces)
    text = "".join(p.removesuffix(CONTINUES) for p in pieces) + last
    assert text == "a" * 65535 + "é" + "b" * 3_000_000


def test_a_process_printing_megabytes_without_a_newline_comes_in_marked_pieces(
        tmp_path: Path) -> None:
    lines: list[str] = []
    done = threading.Event()

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "after":
            done.set()

    proc = spawn(f'{sys.executable} -c "{FLOOD}"', tmp_path, {"PATH": "/usr/bin:/bin"}, [],
                 on_line)
    wait_for(done.is_set, timeout=30)
    proc.wait()
    check_pieces(lines)


def test_a_build_step_printing_without_newlines_comes_in_marked_pieces(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_step([sys.executable, "-c", FLOOD], cwd=tmp_path, env={},
                      deadline=time.monotonic() + 60, on_line=lines.append)
    assert result.returncode == 0
    check_pieces(lines)


def test_output_ending_without_a_newline_is_not_marked() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "print('one'); print('two', end='')"],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert list(bounded_lines(proc.stdout)) == ["one", "two"]
    proc.wait()
