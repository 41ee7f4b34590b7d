"""The child process that runs pyinfra for one job: ``python -m roost.hosts.worker``.

It reads a job (JSON on stdin: mode, hosts, recipe files), connects with the pinned host
keys only, then gathers facts (``facts``), plans recipes (``plan``, pyinfra's dry run with
diffs) or applies them (``apply``), and prints one JSON result line on stdout. It runs
apart from the control plane because pyinfra needs gevent's monkey patching, and because
recipes are the company's own Python code.

:data:`roost.hosts.runner.BOOT` starts it: gevent's monkey patching comes before anything
else is imported. An app's own recipes run in the build sandbox instead
(:mod:`roost.hosts.apprecipes`): the job is a file given as the first argument, and with
``"stream": true`` each operation's result (and each error line) is printed as it happens,
the result line coming last behind :data:`RESULT`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from typing import Any

import gevent
import pyinfra
from pyinfra import context
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.operations import run_ops
from pyinfra.api.state import BaseStateCallback, StateStage
from pyinfra.context import ctx_host, ctx_state

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESULT = "\x1eroost-result "  # marks the result line among streamed lines


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _op_name(state: State, op_hash: str) -> str:
    return ", ".join(sorted(state.op_meta[op_hash].names))


class Stream(BaseStateCallback):
    """Prints each operation's result as it completes, as a build prints its steps."""

    def operation_host_error(self, state: State, host: Host, op_hash: str,  # type: ignore[override]
                             retry_count: int = 0, max_retries: int = 0) -> None:
        """An operation failed on ``host``."""
        _say(f"       {_op_name(state, op_hash)}: failed")

    def operation_end(self, state: State, op_hash: str) -> None:  # type: ignore[override]
        """An operation ran on every host: changed, or already in place."""
        for host in state.inventory.iter_activated_hosts():
            data = state.ops.get(host, {}).get(op_hash)
            if data is None or not data.operation_meta.is_complete():
                continue
            meta = data.operation_meta
            if meta.did_succeed(_raise_if_not_complete=False):
                _say(f"       {_op_name(state, op_hash)}: "
                     f"{'changed' if meta.did_change() else 'already in place'}")


class Capture(logging.Handler):
    """pyinfra's log lines, kept per host and per operation (diffs, errors)."""

    def __init__(self, stream: bool = False) -> None:
        super().__init__(logging.DEBUG)
        self.diffs: dict[tuple[str, str], list[str]] = {}
        self.errors: dict[str, list[str]] = {}
        self.stream = stream  # print warnings and errors as they come

    def error(self, host: str, text: str) -> None:
        """File an error line under ``host`` (and print it when streaming)."""
        self.errors.setdefault(host, []).append(text)
        if self.stream:
            _say(f" !     {text}")

    def emit(self, record: logging.LogRecord) -> None:
        """File one record under the host (and operation) it was logged for."""
        try:
            text = ANSI.sub("", record.getMessage())
        except Exception:
            return
        host = context.host if context.ctx_host.isset() else None
        name = getattr(host, "name", None)
        if name is None:
            prefix = re.match(r"^\s*\[([^\]]+)\]", text)
            name = prefix.group(1) if prefix else None
        if name is None:
            return
        op_hash = getattr(host, "current_op_hash", None) if host is not None else None
        if op_hash and record.levelno == logging.INFO:
            line = re.sub(r"^\[[^\]]+\]\s*", "", text.rstrip())
            line = line[2:] if line.startswith("  ") else line
            if line:
                self.diffs.setdefault((name, op_hash), []).append(line)
        elif record.levelno >= logging.WARNING:
            self.error(name, text.strip())


def _exec_recipe(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        code = compile(fh.read(), path, "exec")
    exec(code, {"__file__": path, "__name__": "__roost_recipe__"})


def _load(state: State, jobs: dict[str, dict[str, Any]], order: list[str],
          capture: Capture) -> None:
    """Load each recipe file on every host it applies to (in parallel), one file after
    the other, as pyinfra's CLI does: a file's operations then line up across hosts."""
    for number, path in enumerate(order):
        state.current_deploy_filename = path
        state.current_op_file_number = number

        failed: set[Host] = set()

        def one(host: Host, path: str = path, failed: set[Host] = failed) -> None:
            with ctx_host.use(host):
                try:
                    _exec_recipe(path)
                except Exception as exc:
                    capture.error(host.name, f"recipe {path.rpartition('/')[2]} failed: "
                                             f"{exc.__class__.__name__}: {exc}")
                    failed.add(host)

        hosts = [h for h in state.inventory.get_active_hosts()
                 if path in jobs[h.name]["recipes"]]
        gevent.joinall([state.pool.spawn(one, h) for h in hosts])
        # Not state.fail_hosts: it raises once no host is left, and every host must report.
        state.failed_hosts.update(failed)
        state.active_hosts -= failed


def _operations(state: State, host: Host, capture: Capture, applied: bool
                ) -> list[dict[str, Any]]:
    ops = []
    for op_hash in host.op_hash_order:
        data = state.ops[host].get(op_hash)
        if data is None:
            continue
        meta = state.op_meta[op_hash]
        op = data.operation_meta
        will = op._maybe_is_change
        if will and data.global_arguments.get("_if"):
            will = None  # depends on an earlier operation's result: might change
        entry: dict[str, Any] = {"name": ", ".join(sorted(meta.names)), "will_change": will,
                                 "diff": capture.diffs.get((host.name, op_hash), [])}
        if applied:
            done = op.is_complete()
            entry["status"] = ("not run" if not done else "changed" if op.did_change()
                               else "ok" if op.did_succeed(_raise_if_not_complete=False)
                               else "failed")
        ops.append(entry)
    return ops


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Connect, then gather facts, plan or apply; the result per host."""
    pyinfra.is_cli = True  # order operations by recipe line, as the pyinfra CLI does
    capture = Capture(stream=bool(job.get("stream")))
    logging.getLogger("pyinfra").addHandler(capture)
    logging.getLogger("pyinfra").setLevel(logging.INFO)
    logging.getLogger("pyinfra").propagate = False
    jobs = {h["name"]: h for h in job["hosts"]}
    names = [(h["name"], {
        "ssh_hostname": h["address"], "ssh_port": h["port"], "ssh_user": h["user"],
        "ssh_key": h["key_file"], "ssh_known_hosts_file": job["known_hosts"],
        "ssh_strict_host_key_checking": "yes", "ssh_config_file": job["ssh_config"],
        "ssh_allow_agent": False, "ssh_look_for_keys": False,
        **h.get("data", {})}) for h in job["hosts"]]
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for h in job["hosts"]:
        for role in h.get("roles", []):
            groups.setdefault(role, ([], {}))[0].append(h["name"])
    inventory = Inventory((names, {}), **groups)
    config = Config(CONNECT_TIMEOUT=job.get("connect_timeout", 10), FAIL_PERCENT=None,
                    DIFF=job["mode"] == "plan", PARALLEL=max(1, min(50, len(names))))
    # An apply checks each operation once, as it runs (as `pyinfra -y` does); a plan
    # checks them all without running any.
    state = State(inventory, config, check_for_changes=job["mode"] != "apply")
    if job.get("cwd"):  # files.put(src="files/x"), templates: relative to the recipes
        state.cwd = job["cwd"]
    if job.get("stream"):
        state.add_callback_handler(Stream())
        gevent.get_hub().exception_stream = None  # errors reach the result, not tracebacks
    state.set_stage(StateStage.Connect)
    # Set once for the whole run: a greenlet's ctx_state.use would unset it for the others.
    ctx_state.set(state)
    with contextlib.suppress(PyinfraError):  # no host reached: each one says why below
        connect_all(state)
    out: dict[str, Any] = {}
    connected = {h.name for h in inventory if h.connected}
    try:
        state.set_stage(StateStage.Prepare)
        if job["mode"] == "facts":
            from roost.hosts.facts import gather

            def facts_of(host: Host) -> None:
                with ctx_host.use(host):
                    try:
                        out[host.name] = {"facts": gather(host)}
                    except Exception as exc:
                        capture.error(host.name,
                                      f"facts failed: {exc.__class__.__name__}: {exc}")

            gevent.joinall([state.pool.spawn(facts_of, h)
                            for h in inventory.get_active_hosts()])
        else:
            _load(state, jobs, job["recipe_order"], capture)
            if job["mode"] == "apply":
                state.set_stage(StateStage.Execute)
                with contextlib.suppress(PyinfraError):  # every host failed: each says why
                    run_ops(state)
            for host in inventory.iter_activated_hosts():
                out[host.name] = {"operations": _operations(state, host, capture,
                                                            job["mode"] == "apply")}
    finally:
        state.set_stage(StateStage.Disconnect)
        disconnect_all(state)
    result: dict[str, Any] = {}
    for host in inventory:
        entry = out.get(host.name, {})
        failed = host.name not in connected or host in state.failed_hosts or not entry
        errors = capture.errors.get(host.name, [])
        entry.update({"connected": host.name in connected, "failed": failed,
                      "error": _summary(errors) if failed else ""})
        result[host.name] = entry
    return {"hosts": result}


def _summary(lines: list[str]) -> str:
    cleaned = [re.sub(r"^\s*\[[^\]]+\]\s*", "", line) for line in lines if line.strip()]
    return "; ".join(cleaned[-3:])[:1000] or "failed (no reason given)"


def main(job_file: str = "") -> None:
    """Read the job (from ``job_file``, else stdin), print the result as one JSON line
    (behind :data:`RESULT` when the job streams)."""
    if job_file:
        with open(job_file, encoding="utf-8") as fh:
            job = json.load(fh)
    else:
        job = json.loads(sys.stdin.read())
    try:
        result = run(job)
    except Exception as exc:
        result = {"error": f"{exc.__class__.__name__}: {exc}"}
    _say((RESULT if job.get("stream") else "") + json.dumps(result))


if __name__ == "__main__":
    main()
