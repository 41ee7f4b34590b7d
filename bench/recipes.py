"""Recipes benchmark: Roost's ``base`` recipe applied to 10 test hosts (a first apply, then
a second one with nothing to change) beside pyinfra's own command line running the same
recipe on the same kind of inventory, in the same run.

Each side gets 10 fresh test hosts (real sshd, each in its own network and mount
namespaces; see tests/hosts/sshhosts.py), so both first applies start from the same state.
Roost's side is ``hostflow.apply``, what ``roost hosts apply`` runs (the pyinfra worker,
the store record); pyinfra's is ``pyinfra -y INVENTORY base.py``.
The sides take turns (ABBA) for ``--rounds``; medians are printed.
Targets: first apply <= 1.2x pyinfra's time; the no-change apply under 5 s. Needs root.

    PYTHONPATH=. /work/main/.venv/bin/python bench/recipes.py [--hosts 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roost.hosts import keys, recipebook
from roost.orchestration import hostflow
from roost.orchestration.platform import open_platform
from roost.settings import Settings
from tests.hosts.sshhosts import TestHost, usable

PYINFRA = Path(sys.executable).with_name("pyinfra")


def _hosts(count: int, public: str) -> list[TestHost]:
    return [TestHost().start(public) for _ in range(count)]


def _roost(hosts: list[TestHost], key: Path, work: Path) -> tuple[float, float, int]:
    ctx = open_platform(Settings(home=work / "home", database_url=f"sqlite:///{work}/r.db"))
    for i, h in enumerate(hosts):
        hostflow.add(ctx, "bench", f"h{i}", f"ssh://root@{h.address}",
                     keys.scan(h.address, h.port).fingerprint, [], key.read_text())
    started = time.perf_counter()
    first = hostflow.apply(ctx, "bench")
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = hostflow.apply(ctx, "bench")
    second_s = time.perf_counter() - started
    assert first.status == "ok" and second.status == "ok", (first.results, second.results)
    changed = sum(r["changed"] for r in second.results.values())
    ctx.engine.dispose()
    return first_s, second_s, changed


def _pyinfra(hosts: list[TestHost], key: Path, work: Path) -> tuple[float, float]:
    known = work / "known_hosts"
    known.write_text("".join(keys.scan(h.address, h.port).known_hosts_line(h.address, h.port)
                             for h in hosts))
    data = repr({"ssh_user": "root", "ssh_key": str(key), "ssh_known_hosts_file": str(known),
                 "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
                 "roost_ssh_port": 22, "roost_tcp_ports": [80, 443, 8080],
                 "roost_udp_ports": []})
    inventory = work / "inventory.py"
    inventory.write_text("hosts = [" + ", ".join(
        f"('p{i}', dict({data}, ssh_hostname={h.address!r}))" for i, h in enumerate(hosts))
        + "]\n")
    recipe = recipebook.builtin("base")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    times = []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run([str(PYINFRA), "-y", str(inventory), str(recipe)], env=env,
                              capture_output=True, text=True, cwd=work)
        times.append(time.perf_counter() - started)
        assert done.returncode == 0, done.stderr[-2000:]
    return times[0], times[1]


def _round(side: str, count: int, key: Path, public: str, work: Path
           ) -> tuple[float, float]:
    hosts = _hosts(count, public)
    try:
        if side == "roost":
            first, second, changed = _roost(hosts, key, work)
            assert changed == 0
            return first, second
        return _pyinfra(hosts, key, work)
    finally:
        for h in hosts:
            h.destroy()


def main() -> None:
    """Run both sides in turns (ABBA, so a change of machine load hits both alike) and
    print their median times side by side."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    why = usable()
    if why:
        sys.exit(f"bench/recipes.py: {why}")
    times: dict[str, list[tuple[float, float]]] = {"roost": [], "pyinfra": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        public = key.with_suffix(".pub").read_text().strip()
        for number in range(args.rounds):
            order = ["roost", "pyinfra"] if number % 2 == 0 else ["pyinfra", "roost"]
            for side in order:
                round_dir = work / f"{side}{number}"
                round_dir.mkdir()
                times[side].append(_round(side, args.hosts, key, public, round_dir))
    r_first = statistics.median(t[0] for t in times["roost"])
    r_second = statistics.median(t[1] for t in times["roost"])
    p_first = statistics.median(t[0] for t in times["pyinfra"])
    p_second = statistics.median(t[1] for t in times["pyinfra"])
    n = args.hosts
    print(f"recipes: base on {n} hosts, first apply: roost {r_first:.1f} s, pyinfra "
          f"{p_first:.1f} s ({r_first / p_first:.2f}x; target <= 1.2x)")
    print(f"recipes: base on {n} hosts, no-change apply: roost {r_second:.1f} s "
          f"(0 operations changed), pyinfra {p_second:.1f} s "
          f"({r_second / p_second:.2f}x; target < 5 s)")
    print(f"recipes: rounds (first, no-change) roost {_fmt(times['roost'])}; "
          f"pyinfra {_fmt(times['pyinfra'])}")


def _fmt(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"({a:.1f}, {b:.1f})" for a, b in pairs)


if __name__ == "__main__":
    main()
