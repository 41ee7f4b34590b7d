"""Which recipe files apply to a host, and where the company's recipes come from.

Every host gets Roost's ``base`` recipe, then the company's ``all.py``, then for each of
its roles (in alphabetical order) Roost's recipe of that name (``docker-node``, which
``docker-manager`` shares, ``postgres-server``) if there is one and the company's
``ROLE.py`` if there is one. The company's recipes are a folder on the control plane's
machine or a git repository (cloned into ``ROOST_HOME/recipes``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roost.errors import InvalidInput

BUILTIN = Path(__file__).parent / "recipes"
GIT_URL = re.compile(r"^(https?|ssh|git|file)://\S+$|^[\w.-]+@[\w.-]+:\S+$|^\S+\.git$")
# Ports each shipped role opens in the base recipe's firewall (beside SSH and the router's).
ROLE_PORTS: dict[str, dict[str, list[int]]] = {
    "docker-node": {"tcp": [2377, 7946], "udp": [7946, 4789]},
    "docker-manager": {"tcp": [2377, 7946], "udp": [7946, 4789]},
    "postgres-server": {"tcp": [5432], "udp": []},
}

# Roles that put a host in the apps' swarm, and whether as a manager; both run the
# ``docker-node`` recipe.
SWARM_ROLES = {"docker-node": False, "docker-manager": True}
RECIPE_OF_ROLE = {"docker-manager": "docker-node"}
# The CPU weight (systemd's scale: 100 is every unit's default) the docker-node recipe gives
# the container engine's daemons: starting and stopping containers, health-check execs and
# the engine's DNS then take the CPU only when the apps and the router leave it free, so a
# deploy does not slow the requests served meanwhile (bench/swarm_restart.py).
ENGINE_CPU_WEIGHT = 10
ENGINE_UNITS = ("containerd.service", "docker.service")


def swarm_membership(roles: list[str]) -> bool | None:
    """Whether a host with ``roles`` joins the swarm as a manager (True), a worker
    (False), or not at all (None); a manager role wins."""
    found = [SWARM_ROLES[r] for r in roles if r in SWARM_ROLES]
    return max(found) if found else None


@dataclass(frozen=True)
class Source:
    """The company's recipes: what the user gave, the folder read, the git commit."""

    source: str
    directory: Path | None
    revision: str = ""


def builtin(name: str) -> Path | None:
    """Roost's own recipe ``name`` (a shipped file), if there is one."""
    path = BUILTIN / f"{name}.py"
    return path if path.is_file() else None


def recipe_order(roles: list[str], company: Path | None) -> list[str]:
    """Every recipe file for hosts with any of ``roles``, in the order they run: ``base``,
    the company's ``all.py``, then per role (alphabetically) Roost's recipe of that name
    and the company's. Each file is loaded on all its hosts before the next one, as
    pyinfra's command line does, so that a file's operations line up across hosts."""
    found: list[Path | None] = [builtin("base"), company / "all.py" if company else None]
    builtins: set[str] = set()
    for role in sorted(set(roles)):
        own = RECIPE_OF_ROLE.get(role, role)
        if own not in builtins:  # docker-node and docker-manager share one recipe
            builtins.add(own)
            found.append(builtin(own))
        found.append(company / f"{role}.py" if company else None)
    return [str(p) for p in found if p is not None and p.is_file()]


def files_for(roles: list[str], company: Path | None) -> list[str]:
    """The recipe files for a host with ``roles``, in the order they run."""
    return recipe_order(roles, company)


def _git(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL,
                              env={"GIT_TERMINAL_PROMPT": "0",
                                   "GIT_SSH_COMMAND": "ssh -o BatchMode=yes "
                                                      "-o ConnectTimeout=15",
                                   "PATH": "/usr/bin:/bin:/usr/local/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInput(f"git {args[0]} failed: {exc}") from None
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InvalidInput(f"git {args[0]} failed: {last}")
    return done.stdout.strip()


def check_folder(directory: Path, source: str) -> None:
    """A recipes folder must hold at least one ``*.py`` recipe."""
    try:
        is_dir = directory.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if not is_dir:
        raise InvalidInput(f"{source} is not a folder or a git URL: give the path of a folder "
                           "of recipes (all.py, ROLE.py) or a git URL")
    if not any(directory.glob("*.py")):
        raise InvalidInput(f"{source} holds no recipe: add all.py (every host) or ROLE.py "
                           "(hosts with that role)")


def fetch(source: str, home: Path) -> Source:
    """The recipes of ``source`` as a folder: a local path as it is, a git URL cloned (or
    brought up to date) in ``home/recipes``."""
    source = source.strip()
    if not source:
        raise InvalidInput("give a folder of recipes or a git URL")
    local = Path(source).expanduser()
    try:
        is_dir = local.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte
        is_dir = False
    if is_dir:
        check_folder(local, source)
        return Source(source=str(local.resolve()), directory=local.resolve())
    if not GIT_URL.match(source):
        raise InvalidInput(f"{source} is not a folder or a git URL: give the path of a folder "
                           "of recipes (all.py, ROLE.py) or a git URL")
    checkout = home / "recipes" / "checkout"
    fresh = checkout.with_name("checkout.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _git(["clone", "--quiet", "--depth", "1", "--", source, str(fresh)])
    try:
        check_folder(fresh, source)
    except InvalidInput:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    revision = _git(["rev-parse", "HEAD"], cwd=fresh)
    shutil.rmtree(checkout, ignore_errors=True)
    fresh.rename(checkout)
    return Source(source=source, directory=checkout, revision=revision)
