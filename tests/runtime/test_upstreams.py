"""The upstream resolver answers real DNS queries over UDP the way Caddy asks them, from a
process of its own; Caddy outlives it with the lists it last got."""

from __future__ import annotations

import http.server
import json
import multiprocessing
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.errors import RuntimeFailure
from roost.runtime import leftovers, spawn
from roost.runtime.router import Router
from roost.runtime.upstreams import SRV, UpstreamResolver, app_name, host_lookup_name
from tests.conftest import free_port


def query(resolver: UpstreamResolver, name: str, qtype: int, qid: int = 7) -> bytes:
    """Send one query and return the raw response."""
    host, _, port = resolver.address.removeprefix("udp/").rpartition(":")
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\0" + struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, (host, int(port)))
        return s.recv(512)


def parse(reply: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(rcode, id, [(type, rdata)]) of a response with one question."""
    qid, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
    i = 12
    while reply[i]:
        i += 1 + reply[i]
    i += 5
    answers = []
    for _ in range(ancount):
        rtype, _, _, length = struct.unpack("!HHIH", reply[i + 2 : i + 12])
        answers.append((rtype, reply[i + 12 : i + 12 + length]))
        i += 12 + length
    return flags & 0xF, qid, answers


def target(rdata: bytes) -> tuple[int, str]:
    """(port, target name) of SRV record data."""
    port = struct.unpack("!H", rdata[4:6])[0]
    labels, i = [], 6
    while rdata[i]:
        labels.append(rdata[i + 1 : i + 1 + rdata[i]].decode())
        i += 1 + rdata[i]
    return port, ".".join(labels)


@pytest.fixture
def resolver() -> Iterator[UpstreamResolver]:
    """A running resolver."""
    found = UpstreamResolver()
    yield found
    found.close()


def test_srv_and_a_records_follow_the_upstream_list(resolver: UpstreamResolver) -> None:
    resolver.set("shop", ["127.0.0.1:8001", "127.0.0.2:8002"])
    rcode, qid, answers = parse(query(resolver, app_name("shop"), SRV, qid=41))
    assert (rcode, qid) == (0, 41)
    found = sorted(target(rdata) for _, rdata in answers)
    assert found == [(8001, "127-0-0-1.ip.roost"), (8002, "127-0-0-2.ip.roost")]
    rcode, _, [(rtype, rdata)] = parse(query(resolver, "127-0-0-2.ip.roost", 1))
    assert (rcode, rtype, socket.inet_ntoa(rdata)) == (0, 1, "127.0.0.2")
    assert parse(query(resolver, "127-0-0-2.ip.roost", 28))[2] == []  # no AAAA

    resolver.set("shop", ["127.0.0.1:9000"])
    assert [target(r) for _, r in parse(query(resolver, app_name("shop"), SRV))[2]] == [
        (9000, "127-0-0-1.ip.roost")]
    resolver.remove("shop")
    assert parse(query(resolver, app_name("shop"), SRV))[0] == 3  # NXDOMAIN


def test_garbage_is_ignored_and_odd_app_names_get_valid_labels(
        resolver: UpstreamResolver) -> None:
    host, _, port = resolver.address.removeprefix("udp/").rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x00\x01garbage", (host, int(port)))
    name = app_name("Shop_Été")
    assert all(len(label) <= 63 for label in name.split("."))
    resolver.set("Shop_Été", ["127.0.0.1:8001"])
    assert len(parse(query(resolver, name, SRV))[2]) == 1
    assert parse(query(resolver, "nope.up.roost", SRV))[0] == 3


def test_host_names_answer_their_app_or_the_router_pages(resolver: UpstreamResolver) -> None:
    resolver.set_fallback("127.0.0.1:7001", "127.0.0.1:7002")
    resolver.set("shop", ["127.0.0.1:8001"])
    resolver.set_hosts("shop", ["shop.localhost", "WWW.Shop.Example"])

    def srv(host: str) -> list[tuple[int, str]]:
        return [target(r) for _, r in parse(query(resolver, host_lookup_name(host), SRV))[2]]

    assert srv("www.shop.example") == srv("shop.localhost") == [(8001, "127-0-0-1.ip.roost")]
    assert srv("nobody.localhost") == [(7001, "127-0-0-1.ip.roost")]  # "no app here"
    resolver.set("shop", [])
    assert srv("shop.localhost") == [(7002, "127-0-0-1.ip.roost")]  # "unavailable"
    resolver.set_hosts("shop", ["shop.localhost"])
    assert srv("www.shop.example") == [(7001, "127-0-0-1.ip.roost")]
    resolver.remove("shop")
    assert srv("shop.localhost") == [(7001, "127-0-0-1.ip.roost")]


def run_router(state_dir: str, upstream: str, out: Any) -> None:
    """A Roost stand-in in its own process: a router with one app's route, then idle."""
    router = Router(f"127.0.0.1:{free_port()}", Path(state_dir),
                    tune_kernel=False)
    router.start()
    router.set_route("shop", ["shop.localhost"], [upstream])
    out.send((router.listen, router.refresh_seconds, router.pids()))
    threading.Event().wait(120)  # until the test kills this process


def test_a_crashed_roost_leaves_the_router_serving_its_last_upstreams(
        tmp_path: Path) -> None:
    """If Roost itself dies, Caddy keeps sending each app's traffic where it last knew."""
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    roost = ctx.Process(target=run_router,
                        args=(str(tmp_path), f"127.0.0.1:{app.server_port}", send))
    roost.start()
    listen, refresh, pids = receive.recv()
    # Who they are now: at the end, only these are killed, never a process given one of
    # their numbers after they were gone.
    known = [asdict(r) for r in (leftovers.settled(pid) for pid in pids) if r is not None]
    try:
        os.kill(roost.pid, signal.SIGKILL)
        roost.join()
        answers = []
        deadline = time.monotonic() + 8 * refresh  # many of the router's refreshes
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline and len(answers) < 500:
                r = client.get(f"http://{listen}/", headers={"Host": "shop.localhost"})
                answers.append((r.status_code, r.text))
        assert set(answers) == {(200, "hello")}
    finally:
        (tmp_path / "router-pids.json").write_text(json.dumps(known))
        leftovers.kill(tmp_path / "router-pids.json")
        app.shutdown()


class Hello(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``hello``."""

    def do_GET(self) -> None:  # named by the http.server API
        """Say hello."""
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


def test_a_router_that_fails_to_start_leaves_no_caddy_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caddy leads a session of its own (it outlives a crashed Roost on purpose), so a start
    that fails after Caddy is up must stop it: a refused `roost up` leaves nothing behind."""
    router = Router(f"127.0.0.1:{free_port()}", tmp_path / "router", tune_kernel=False)
    started: list[int] = []

    def refused() -> None:  # Caddy answers its admin API, then the configuration is refused
        assert router.proc is not None
        started.append(router.proc.pid)
        raise RuntimeFailure("the router refused its configuration")

    monkeypatch.setattr(router, "push", refused)
    with pytest.raises(RuntimeFailure, match="refused its configuration"):
        router.start()
    assert started and not spawn.running(started[0])
    assert router.resolver is None
