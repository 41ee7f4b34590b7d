"""A one-off command on a VM (`roost run`): ``systemd-run --pipe`` as the app's user."""

from __future__ import annotations

import secrets
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
    # The exit code follows on a line of its own, marked with a name the command cannot
    # guess: output that does not end in a newline still ends where it ended.
    marker = f"roost-exit-{secrets.token_hex(8)}="
    line = ("systemd-run --quiet --pipe --wait --collect " + " ".join(props)
            + " /bin/bash -c " + shlex.quote(f"exec 2>&1; {command}")
            + f"; printf '\\n{marker}%s\\n' \"$?\"")

    def items() -> Iterator[str | int]:
        code, held = 1, None
        try:
            for out in conn.stream(line):
                if out.startswith(marker) and out[len(marker):].isdigit():
                    code = int(out[len(marker):])
                    if held:  # "" is the newline put before the marker
                        yield held
                    held = None
                    continue
                if held is not None:
                    yield held
                held = out
            if held is not None:  # the connection ended before the marker
                yield held
        finally:
            conn.close()
        yield code

    return items()
