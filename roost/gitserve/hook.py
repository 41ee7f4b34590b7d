"""Roost's pre-receive hook: hands the pushed refs to `roost up` and relays the deploy.

git runs this (through the ``pre-receive`` script Roost writes in ``ROOST_HOME/git/hooks``)
with the ref updates on stdin and the pushed objects still in quarantine. It sends both to
the push's private unix socket (``ROOST_PUSH_SOCKET``, set by Roost for this one push),
prints every line Roost sends back (git shows them to the pusher as ``remote:`` lines) and
exits with the deploy's status: non-zero rejects the push and leaves the ref as it was.

It imports only the standard library and runs with ``python -I``: it starts fast, and
nothing in the environment or the repository chooses what it imports.
"""

from __future__ import annotations

import json
import os
import socket
import sys

QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                   "GIT_QUARANTINE_PATH")


def say(line: str) -> None:
    """Print a line for the pusher at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    """Report the push to Roost and relay its answer; return the hook's exit status."""
    updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    path = os.environ.get("ROOST_PUSH_SOCKET", "")
    if not path:
        say("!     this repository takes pushes only through Roost (git push roost main)")
        return 1
    env = {name: os.environ.get(name, "") for name in QUARANTINE_VARS}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(json.dumps({"updates": updates, "env": env}).encode() + b"\n")
            for raw in sock.makefile("rb"):
                message = json.loads(raw)
                if "line" in message:
                    say(str(message["line"]))
                elif "exit" in message:
                    return int(message["exit"])
    except (OSError, ValueError) as exc:
        say(f"!     lost contact with Roost during the deploy ({exc.__class__.__name__}); "
            "`roost builds APP` shows what happened")
        return 1
    say("!     Roost ended the deploy without a result; `roost builds APP` shows what happened")
    return 1


if __name__ == "__main__":
    sys.exit(main())
