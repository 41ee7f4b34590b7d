"""The sandbox's own guarantees, process by process (the hostile apps are in tests/security)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.runtime import sandbox, spawn
from roost.runtime.model import ReleaseSpec
from roost.runtime.oneoff import run
from tests.conftest import wait_for


def test_the_platform_writes_into_a_release_through_no_link(tmp_path: Path) -> None:
    release, outside = tmp_path / "release", tmp_path / "outside"
    release.mkdir()
    outside.mkdir()
    (release / ".roost").symlink_to(outside)  # a directory link planted by a build
    sandbox.write_private(release, ".roost/assets-manifest.json", b"{}")
    assert not list(outside.iterdir())
    assert (release / ".roost").is_dir() and not (release / ".roost").is_symlink()
    (release / ".roost" / "m.json").symlink_to(outside / "target")  # a file link
    sandbox.write_private(release, ".roost/m.json", b"{}")
    assert not (outside / "target").exists()
    assert (release / ".roost" / "m.json").read_bytes() == b"{}"
    with pytest.raises(ValueError, match="relative path"):
        sandbox.write_private(release, "../escape.json", b"{}")


def test_a_missing_bwrap_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    spec = ReleaseSpec(app="shop", release=1, directory=tmp_path, env={},
                       process_types={"web": "true"})
    with pytest.raises(Exception, match="apt-get install bubblewrap"):
        list(run(spec, "true"))


def test_sockets_reach_the_app_at_fd_3_with_its_own_listen_pid(tmp_path: Path) -> None:
    listener = spawn.bind_socket()
    lines: list[str] = []
    jail = sandbox.for_release(True, tmp_path, None)
    proc = spawn.spawn('echo "$LISTEN_FDS $LISTEN_PID $$ $HOME"; '
                       'python3 -c "import socket; s = socket.socket(fileno=3); '
                       'print(s.getsockname()[1])"',
                       tmp_path, spawn.environment({}, {}, tmp_path), [listener], lines.append,
                       jail)
    assert proc.wait(timeout=30) == 0
    wait_for(lambda: len(lines) >= 2, timeout=10)  # the output's reader may still be at work
    spawn_pid = lines[0].split()[1]
    assert lines[0].split() == ["1", spawn_pid, spawn_pid, "/app"]
    assert int(spawn_pid) < 10  # a pid of the sandbox's own namespace
    assert lines[1] == str(listener.getsockname()[1])
    listener.close()



def test_sockets_at_any_descriptor_number_reach_the_app_in_order(tmp_path: Path) -> None:
    """A busy platform holds hundreds of descriptors, so the sockets it hands an app can sit
    anywhere, including where the shell stages them on the way to fd 3 and 4."""
    import fcntl
    import socket

    web, health = spawn.bind_socket(), spawn.bind_socket()
    # The lowest free numbers from 100 (in this process: 100, then 101), the health socket
    # first, so that web at 101 comes first and each sits where the other used to be staged.
    at_health = fcntl.fcntl(health.fileno(), fcntl.F_DUPFD, 100)
    at_web = fcntl.fcntl(web.fileno(), fcntl.F_DUPFD, 100)
    placed = [socket.socket(fileno=at_web), socket.socket(fileno=at_health)]
    lines: list[str] = []
    jail = sandbox.for_release(True, tmp_path, None)
    proc = spawn.spawn('python3 -c "import socket; print(*(socket.socket(fileno=fd)'
                       '.getsockname()[1] for fd in (3, 4)))"',
                       tmp_path, spawn.environment({}, {}, tmp_path), placed, lines.append,
                       jail)
    assert proc.wait(timeout=30) == 0, lines
    wait_for(lambda: lines, timeout=10)  # the output's reader thread may still be at work
    assert lines == [f"{web.getsockname()[1]} {health.getsockname()[1]}"]
    for each in (*placed, web, health):
        each.close()


def test_config_vars_cannot_make_a_process_without_sockets_move_descriptors(
        tmp_path: Path) -> None:
    """A worker gets no sockets; config vars named like the platform's socket hand-over do
    not make its shell shuffle or close its descriptors."""
    lines: list[str] = []
    config = {"ROOST_FDS": "1", "ROOST_FD_BASE": "1", "LISTEN_FDS": "1"}
    proc = spawn.spawn('echo "out ok ${LISTEN_FDS:-none}"', tmp_path,
                       spawn.environment(config, {}, tmp_path), [], lines.append,
                       sandbox.for_release(True, tmp_path, None))
    assert proc.wait(timeout=30) == 0, lines
    wait_for(lambda: lines, timeout=10)  # the output's reader thread may still be at work
    assert lines == ["out ok none"]
