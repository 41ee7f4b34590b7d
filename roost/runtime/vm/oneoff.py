"""A one-off command on a VM (`roost run`): ``systemd-run --pipe`` as the app's user."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from roost.runtime.vm.ssh import Connection
from roost.runtime.vm.units import Layout


def run(conn: Connection, layout: Layout, release: int, command: str) -> Iterator[str | int]:
    """Output lines as they come, then the exit code; ``conn`` is closed at the end."""
    props = [f"--uid={layout.user}", f"--gid={layout.user}",
             f"--property=EnvironmentFile={layout.env_file(release)}",
             f"--working-directory={layout.release(release)}",
             "--property=NoNewPrivileges=yes"]
    line = ("systemd-run --quiet --pipe --wait --collect " + " ".join(props)
            + " /bin/bash -c " + shlex.quote(f"exec 2>&1; {command}") + "; echo \"exit=$?\"")

    def items() -> Iterator[str | int]:
        code = 1
        try:
            for out in conn.stream(line):
                if out.startswith("exit=") and out[5:].isdigit():
                    code = int(out[5:])
                else:
                    yield out
        finally:
            conn.close()
        yield code

    return items()
