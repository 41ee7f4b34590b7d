"""git's credential helper for Roost, kept to the standard library so that git's two calls
per push (``get``, then ``store``) cost a few milliseconds each, not a CLI start-up.

git runs it as ``python -m roost.cli.gitcred ACTION`` (what `roost login` and
`roost git remote` configure); `roost git credential ACTION` is the same helper.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from roost import credentials


def answer(action: str, request: str) -> str:
    """The helper's answer to git: the API token for Roost's own URL on ``get``, else ""."""
    if action != "get":
        return ""  # the token lives in Roost's credentials file; git neither stores nor erases it
    asked = dict(line.partition("=")[::2] for line in request.splitlines() if line)
    creds = credentials.resolve()
    if creds is None or not creds.token:
        return ""
    ours = urlsplit(creds.url)
    if asked.get("protocol") != ours.scheme or asked.get("host") != ours.netloc:
        return ""  # another server: let git's other helpers answer
    return f"username=roost\npassword={creds.token}\n"


def main() -> None:
    """Read git's request on stdin, write the answer on stdout."""
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    sys.stdout.write(answer(action, sys.stdin.read()))


if __name__ == "__main__":
    main()
