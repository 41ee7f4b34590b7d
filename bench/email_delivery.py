"""Benchmark: email. Roost (`roost up`: SMTP submission and the Mailgun-style API into its
queue, DKIM-signed, relayed) against Postfix relaying the same messages, both to one
aiosmtpd sink on 127.0.0.1 that counts by Message-ID; then a SIGKILL of `roost up` in the
middle of a run (nothing accepted may be lost; duplicates are counted).

    PYTHONPATH=. .venv/bin/python bench/email_delivery.py [--count 10000] [--big 20] [--clients 10]

Postfix comes from Debian (`make bench` installs it); a private instance runs with its own
config and queue directories under a temporary directory, listening on 127.0.0.1 only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `email` package, and a script's own
# directory comes first on sys.path: take it off before anything imports `email`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import smtplib  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402

DOMAIN = "mail.bench.test"
TEXT = ("Thank you for your order. " * 80)[:2000] + "\n"
ATTACHMENT = os.urandom(1024 * 1024)
ROOST = str(Path(sys.executable).with_name("roost"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sink_main(port: int, out: str) -> None:
    """The sink: takes every message, writes ``<arrival time> <Message-ID>`` per message."""
    import asyncio
    import re

    import uvloop
    from aiosmtpd.smtp import SMTP

    mid = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)
    log = open(out, "a", buffering=1)  # noqa: SIM115  (open for the sink's whole life)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            data = envelope.original_content or b""  # type: ignore[attr-defined]
            head = data.split(b"\r\n\r\n", 1)[0]
            found = mid.search(head)
            for _ in envelope.rcpt_tos:  # type: ignore[attr-defined]
                log.write(f"{time.time():.6f} {found.group(1).decode() if found else '-'}\n")
            return "250 OK"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), data_size_limit=None, hostname="sink"), "127.0.0.1", port,
            backlog=512)
        await server.serve_forever()

    uvloop.run(main())


class Sink:
    """The sink process and what it has counted."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.file = free_port(), tmp / "sink.log"
        self.file.touch()
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink", str(self.port),
                                      str(self.file)])
        wait(lambda: _listening(self.port), 20)

    def arrivals(self) -> list[tuple[float, str]]:
        lines = self.file.read_text().splitlines()
        return [(float(t), m) for t, _, m in (line.partition(" ") for line in lines) if m]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait(cond: object, timeout: float, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {cond}")
        time.sleep(every)


def message(tag: str, i: int, big: bool) -> tuple[str, str, bytes]:
    """(Message-ID, recipient, bytes) of message ``i``: 2 KB of text, 1 MB attached if big."""
    from email.message import EmailMessage
    from email.policy import SMTP

    mid = f"<{tag}-{i}@{DOMAIN}>"
    msg = EmailMessage()
    msg["From"], msg["To"] = f"orders@{DOMAIN}", f"user{i}@example.org"
    msg["Subject"], msg["Message-ID"] = f"Receipt {i}", mid
    msg.set_content(TEXT)
    if big:
        msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream",
                           filename="invoice.bin")
    return mid, f"user{i}@example.org", msg.as_bytes(policy=SMTP)


def smtp_load(port: int, login: str | None, password: str | None,
              messages: list[tuple[str, str, bytes]], clients: int,
              stop_on_error: bool = False) -> tuple[list[float], list[str]]:
    """Submit ``messages`` over ``clients`` connections; (latencies, accepted ids)."""
    latencies: list[float] = []
    accepted: list[str] = []
    lock = threading.Lock()

    def client(part: list[tuple[str, str, bytes]]) -> None:
        try:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
            if login:
                smtp.login(login, password or "")
            for mid, rcpt, data in part:
                start = time.perf_counter()
                smtp.sendmail(f"orders@{DOMAIN}", [rcpt], data)
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    accepted.append(mid)
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            if not stop_on_error:
                raise

    parts = [messages[n::clients] for n in range(clients)]
    threads = [threading.Thread(target=client, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, accepted


def api_load(base: str, key: str, count: int, big: int, clients: int
             ) -> tuple[list[float], list[str]]:
    """Send ``count`` messages through the Mailgun-style API from ``clients`` threads."""
    latencies: list[float] = []
    accepted: list[str] = []
    lock = threading.Lock()
    big_every = count // big if big else 0

    def client(n: int) -> None:
        with httpx.Client(timeout=60, auth=("api", key)) as http:
            for i in range(n, count, clients):
                files = {"attachment": ("invoice.bin", ATTACHMENT)} \
                    if big_every and i % big_every == 0 else None
                start = time.perf_counter()
                answer = http.post(f"{base}/{DOMAIN}/messages", files=files, data={
                    "from": f"orders@{DOMAIN}", "to": f"user{i}@example.org",
                    "subject": f"Receipt {i}", "text": TEXT})
                took = time.perf_counter() - start
                answer.raise_for_status()
                with lock:
                    latencies.append(took)
                    accepted.append(answer.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, accepted


class Roost:
    """`roost up` with the email add-on on app ``bench``, relaying to the sink."""

    def __init__(self, tmp: Path, sink_port: int, extra: dict[str, str] | None = None) -> None:
        self.home, self.port, self.smtp = tmp / "roost-home", free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
        self.env.update({"ROOST_HOME": str(self.home), "ROOST_LISTEN": f"127.0.0.1:{self.port}",
                         "ROOST_ROUTER_LISTEN": f"127.0.0.1:{free_port()}",
                         "ROOST_ADVISORY_SOURCES": "", "ROOST_LOG_LEVEL": "warning",
                         "ROOST_MAIL_RELAY": f"smtp://127.0.0.1:{sink_port}",
                         "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{self.smtp}",
                         "ROOST_MAIL_DNS_RESOLVER": "off", **(extra or {})})
        self.log = tmp / "roost-up.log"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([ROOST, "up"], env=self.env, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{self.port}/api/v1/health"

        def up() -> bool:
            if self.proc.poll() is not None:
                raise SystemExit(f"`roost up` exited with {self.proc.returncode} while "
                                 f"starting: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait(up, 90)
        token = json.loads((self.home / "credentials.json").read_text())["token"]
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api/v1", timeout=60,
                                headers={"Authorization": f"Bearer {token}"})

    def with_email(self) -> dict[str, str]:
        self.api.post("/apps", json={"name": "bench"}).raise_for_status()
        self.api.post("/apps/bench/addons", json={"kind": "email", "options": {
            "domain": DOMAIN}}).raise_for_status()
        env: dict[str, str] = self.api.get("/apps/bench/config",
                                           params={"reveal": "true"}).json()
        return env

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)


class Postfix:
    """A private Postfix: its own config and queue dirs, 127.0.0.1 only, relaying to the sink."""

    def __init__(self, tmp: Path, sink_port: int) -> None:
        if not shutil.which("postfix"):
            raise SystemExit("postfix is not installed: run `make bench` "
                             "(scripts/ensure-bench-tools.sh installs it)")
        self.dir, self.port = tmp / "postfix", free_port()
        for sub in ("etc", "queue", "data"):
            (self.dir / sub).mkdir(parents=True)
        tmp.chmod(0o755)
        self.dir.chmod(0o755)
        shutil.chown(self.dir / "data", "postfix")
        (self.dir / "etc" / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/maillog
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink_port}
smtpd_relay_restrictions = permit_mynetworks, reject
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtp_tls_security_level = none
smtpd_tls_security_level = none
message_size_limit = 30000000
default_process_limit = 100
""")
        services = ["pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup",
                    "qmgr unix n - n 300 1 qmgr", "rewrite unix - - n - - trivial-rewrite",
                    "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                    "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
                    "flush unix n - n 1000? 0 flush", "proxymap unix - - n - - proxymap",
                    "proxywrite unix - - n - 1 proxymap", "smtp unix - - n - - smtp",
                    "relay unix - - n - - smtp", "showq unix n - n - - showq",
                    "error unix - - n - - error", "retry unix - - n - - error",
                    "discard unix - - n - - discard", "local unix - n n - - local",
                    "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
                    "postlog unix-dgram n - n - 1 postlogd"]
        (self.dir / "etc" / "master.cf").write_text(
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n" + "\n".join(services) + "\n")
        self.run("start")
        wait(lambda: _listening(self.port), 30)

    def run(self, action: str) -> None:
        # Postfix reports to syslog or, given a terminal, to stderr: `script` gives it one.
        subprocess.run(["script", "-qc", f"postfix -c {self.dir}/etc {action}", "/dev/null"],
                       check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.run("stop")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def delivered(sink: Sink, ids: set[str], timeout: float) -> float:
    """Wait until the sink has every id; return the last arrival time."""
    def done() -> bool:
        return ids <= {m for _, m in sink.arrivals()}

    wait(done, timeout, 0.5)
    return max(t for t, m in sink.arrivals() if m in ids)


def report(name: str, count: int, start: float, last: float, latencies: list[float]) -> float:
    rate = count / (last - start)
    print(f"{name:<34} {rate:8.0f} msg/s end to end   accept p50 {pct(latencies, .5):6.1f} ms"
          f"   p99 {pct(latencies, .99):7.1f} ms", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--kill-count", type=int, default=2_000)
    parser.add_argument("--sink", nargs=2)
    parser.add_argument("--set", action="append", default=[], metavar="ROOST_X=VALUE",
                        help="a setting for `roost up` (repeat), e.g. ROOST_MAIL_WORKERS=4")
    args = parser.parse_args()
    if args.sink:
        sink_main(int(args.sink[0]), args.sink[1])
        return
    extra = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(extra) != len(args.set) or any(not k.startswith("ROOST_") for k in extra):
        parser.error("--set takes ROOST_NAME=VALUE")
    if args.kill_count < 40 or args.count < 1 or args.clients < 1:
        parser.error("--count and --clients must be at least 1, --kill-count at least 40 "
                     "(the kill lands once a quarter of them arrived)")
    n, big, clients = args.count, args.big, args.clients
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-email-"))
    sink = Sink(tmp)
    roost = Roost(tmp, sink.port, extra)
    postfix: Postfix | None = None
    try:
        env = roost.with_email()
        login, password = env["MAILGUN_SMTP_LOGIN"], env["MAILGUN_SMTP_PASSWORD"]
        every = n // big if big else 0
        print(f"{n} messages per run (2 KB text, {big} with 1 MB attachments), {clients} "
              f"concurrent clients, one aiosmtpd sink on 127.0.0.1", flush=True)

        batch = [message("smtp", i, bool(every) and i % every == 0) for i in range(n)]
        start = time.time()
        lat, ids = smtp_load(roost.smtp, login, password, batch, clients)
        roost_smtp = report("roost SMTP (DKIM-signed, relayed)", n, start,
                            delivered(sink, set(ids), 1800), lat)

        start = time.time()
        lat, ids = api_load(env["MAILGUN_API_BASE"], env["MAILGUN_API_KEY"], n, big, clients)
        report("roost HTTP API (signed, relayed)", n, start, delivered(sink, set(ids), 1800),
               lat)

        postfix = Postfix(tmp, sink.port)
        batch = [message("postfix", i, bool(every) and i % every == 0) for i in range(n)]
        start = time.time()
        lat, ids = smtp_load(postfix.port, None, None, batch, clients)
        peer = report("postfix SMTP (relayed, unsigned)", n, start,
                      delivered(sink, set(ids), 1800), lat)
        print(f"roost SMTP / postfix: {roost_smtp / peer:.2f}x (target >= 0.5x)", flush=True)

        k = args.kill_count
        batch = [message("kill", i, False) for i in range(k)]
        got: dict[str, list[str]] = {}

        def submit() -> None:
            got["ids"] = smtp_load(roost.smtp, login, password, batch, clients,
                                   stop_on_error=True)[1]

        loader = threading.Thread(target=submit)
        loader.start()
        wait(lambda: sum(m.startswith("<kill-") for _, m in sink.arrivals()) >= k // 4, 600,
             0.01)
        roost.kill()
        loader.join()
        accepted = set(got["ids"])
        roost.start()
        delivered(sink, accepted, 900)
        counts = collections.Counter(m for _, m in sink.arrivals() if m.startswith("<kill-"))
        lost = len(accepted - set(counts))
        twice = sum(1 for c in counts.values() if c > 1)
        print(f"SIGKILL mid-run: {len(accepted)} accepted before the kill, {lost} lost, "
              f"{twice} delivered twice (sink counts by Message-ID)", flush=True)
    finally:
        if postfix is not None:
            postfix.stop()
        roost.stop()
        sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
