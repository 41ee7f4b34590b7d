"""Delivery in a process of its own beside `roost up`: a delivery process that dies is
replaced and nothing it had in hand is lost or sent twice; it goes when `roost up` goes,
even by SIGKILL; a stop leaves none behind."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from roost.mail import deliveryproc
from tests.conftest import wait_for
from tests.mail.conftest import Mailer, start_mailer
from tests.mail.servers import Sink
from tests.mail.test_send import send_smtp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _message_ids(mailer: Mailer) -> Counter[str]:
    found = Counter[str]()
    for received in list(mailer.sink.received):
        match = re.search(rb"^Message-ID:\s*(\S+)", received.data, re.I | re.M)
        if match:
            found[match.group(1).decode()] += 1
    return found


def test_a_killed_delivery_process_is_replaced_and_nothing_is_lost_or_sent_twice(
        mailer: Mailer, caplog: pytest.LogCaptureFixture) -> None:
    children = mailer.service.children
    assert children is not None and len(children.procs) == 1  # the default: one process
    first = children.procs[0].proc.pid
    for n in range(40):
        send_smtp(mailer.env, f"user{n}@example.org")
        if n == 10:  # some in flight, some delivered, the rest still queued
            os.kill(first, signal.SIGKILL)
    wait_for(lambda: all(mailer.sink.to(f"user{n}@example.org") for n in range(40)),
             timeout=60)
    counts = _message_ids(mailer)
    assert len(counts) == 40 and set(counts.values()) == {1}, counts
    assert not _alive(first)
    replacement = children.procs[0].proc.pid
    assert replacement != first and _alive(replacement)
    assert any(f"delivery process {first} stopped" in r.getMessage() for r in caplog.records)


def test_delivery_processes_go_with_roost_up_even_when_it_is_killed(tmp_path: Path) -> None:
    # A stand-in for `roost up`: starts the delivery processes as the mail service does,
    # prints their process ids, then waits to be killed.
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from roost.mail.deliveryproc import Children, Store
        from roost.mail.service import MailConfig
        from roost.orchestration.platform import open_platform
        from roost.settings import Settings

        home = Path({str(tmp_path / "home")!r})
        settings = Settings(home=home)
        platform = open_platform(settings)

        async def main():
            children = Children(Store(settings.effective_database_url, str(home)),
                                MailConfig(processes=2, workers=2), lambda pid: False)
            await children.start(platform.sessions)
            print(" ".join(str(c.proc.pid) for c in children.procs), flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        parent.kill()
        parent.wait(10)
        wait_for(lambda: not any(_alive(p) for p in pids), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_stop_leaves_no_delivery_process(tmp_path: Path, sink: Sink) -> None:
    run = start_mailer(f"sqlite:///{tmp_path / 'roost.db'}", tmp_path / "home", sink,
                       mail_delivery_processes=2)
    mailer = next(run)
    try:
        children = mailer.service.children
        assert children is not None
        pids = [c.proc.pid for c in children.procs]
        assert len(pids) == 2
        send_smtp(mailer.env, "ann@example.org")
        wait_for(lambda: mailer.sink.to("ann@example.org"))
    finally:
        run.close()  # the mail service stops as `roost up`'s does
    assert children.procs == [] and not any(_alive(p) for p in pids)


def test_text_in_a_delivery_process_record_cannot_pass_for_a_record_of_its_own(
        caplog: pytest.LogCaptureFixture) -> None:
    # A next hop's reply, or a recipient an app chose, may hold a line break.
    record = logging.LogRecord("roost.mail", logging.INFO, __file__, 1,
                               "relay said: 250 ok\n50 roost.security forged alarm", None, None)
    written = deliveryproc._OneLine(deliveryproc.LOG_FORMAT).format(record) + "\n"
    with caplog.at_level(logging.DEBUG):
        deliveryproc._relay_log(io.BytesIO(written.encode()))
    seen = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert seen == [("roost.mail", logging.INFO, "relay said: 250 ok"),
                    ("roost.mail", logging.INFO, "50 roost.security forged alarm")]
