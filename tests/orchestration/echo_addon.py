"""A small real add-on for the tests: a per-app directory handed to the app as ECHO_DIR.

It is registered through ``ROOST_ADDON_KINDS=echo=tests.orchestration.echo_addon:EchoAddon``
and exercises every part of the add-on interface the platform calls.
"""

from __future__ import annotations

import secrets
import shutil

from roost.addons.base import Addon, Health, Provisioned, State
from roost.errors import InvalidInput

KIND = "echo=tests.orchestration.echo_addon:EchoAddon"


class EchoAddon(Addon):
    """Provisions a directory under ROOST_HOME/echo/APP with a token file in it."""

    kind = "echo"
    description = "a directory and a token, for tests"
    options = {"size": "a number, recorded and shown by info", "fail": "yes: refuse"}

    def provision(self, app: str, options: dict[str, str]) -> Provisioned:
        if options.get("fail") == "yes":
            raise InvalidInput("the echo add-on was asked to fail")
        if "size" in options and not options["size"].isdigit():
            raise InvalidInput(f"size must be a number, got {options['size']!r}")
        folder = self.env.settings.home / "echo" / app
        folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        (folder / "token").write_text(token)
        return Provisioned(state={"dir": str(folder), "token": token,
                                  "size": options.get("size", "1")},
                           message=f"made {folder}")

    def config_vars(self, app: str, state: State) -> dict[str, str]:
        return {"ECHO_DIR": state["dir"], "ECHO_TOKEN": state["token"]}

    def deprovision(self, app: str, state: State) -> str:
        shutil.rmtree(state["dir"], ignore_errors=True)
        return f"removed {state['dir']}"

    def info(self, app: str, state: State) -> dict[str, str]:
        return {"dir": state["dir"], "size": state["size"]}

    def health(self, app: str, state: State) -> Health:
        from pathlib import Path

        ok = (Path(state["dir"]) / "token").exists()
        return Health(ok=ok, detail="" if ok else "its token file is gone")
