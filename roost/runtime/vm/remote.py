"""The steps that change a VM, each one command over SSH (run as root there).

A slug is unpacked by the app's own user into a directory it owns, so a hostile archive
(absolute paths, ``..``, symlinks) can reach nothing root owns; root then only renames the
directory and writes a marker beside it (never inside: the app could forge that).
"""

from __future__ import annotations

import shlex
from typing import IO

from roost.runtime.vm import units
from roost.runtime.vm.ssh import Connection
from roost.runtime.vm.units import Layout

q = shlex.quote


def ensure_app(conn: Connection, layout: Layout) -> None:
    """The app's user and directories (idempotent)."""
    user = q(layout.user)
    conn.run(
        f"id -u {user} >/dev/null 2>&1 || useradd --system --user-group --no-create-home "
        f"--home-dir {q(layout.base)} --shell /usr/sbin/nologin {user}; "
        f"install -d -m 0755 -o root -g root {q(units.ROOT)} {q(layout.base)} "
        f"{q(layout.base + '/releases')} {q(layout.base + '/scripts')}; "
        f"install -d -m 0700 -o root -g root {q(layout.base + '/incoming')} "
        f"/etc/roost {q(units.ETC)} {q(units.ETC + '/' + layout.app)}")


def has_release(conn: Connection, layout: Layout, number: int) -> bool:
    """Whether release ``number`` is unpacked on the VM already."""
    code, _, _ = conn.run(f"test -e {q(layout.release(number) + '.ok')}", check=False)
    return code == 0


def unpack_release(conn: Connection, layout: Layout, number: int, slug: IO[bytes]) -> None:
    """Copy the slug (a .tar.gz) to the VM and unpack it as the app's user."""
    incoming = f"{layout.base}/incoming/v{number}.tar.gz"
    conn.upload(slug, incoming)
    target, tmp = layout.release(number), f"{layout.base}/releases/.v{number}.tmp"
    user = q(layout.user)
    conn.run(f"set -e; rm -rf {q(tmp)} {q(target)}; install -d -m 0755 -o {user} -g {user} "
             f"{q(tmp)}; runuser -u {user} -- tar -xzf - -C {q(tmp)} --no-same-owner "
             f"--no-same-permissions < {q(incoming)}; rm -f {q(incoming)}; "
             f"mv {q(tmp)} {q(target)}; touch {q(target + '.ok')}")


def read_app_json(conn: Connection, layout: Layout, number: int) -> str:
    """The release's app.json text ("" without one); read as the app's user."""
    path = q(layout.release(number) + "/app.json")
    code, out, _ = conn.run(f"runuser -u {q(layout.user)} -- head -c 65536 {path}",
                            check=False)
    return out if code == 0 else ""


def write_file(conn: Connection, path: str, text: str, mode: str = "0644") -> None:
    """Write a root-owned file atomically with ``mode`` (never readable before its chmod)."""
    tmp = q(path + ".roost-tmp")
    conn.run(f"set -e; umask 077; cat > {tmp}; chmod {mode} {tmp}; chown root:root {tmp}; "
             f"mv -f {tmp} {q(path)}", stdin=text)


def write_app_files(conn: Connection, layout: Layout, number: int,
                    files: dict[str, bytes]) -> None:
    """Put ``files`` (relative path -> bytes: the asset manifest) in the release's directory,
    written as the app's user: a link the build left there leads only where the app may
    write anyway."""
    for relpath, data in files.items():
        parts = [p for p in relpath.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ValueError(f"{relpath!r} is not a relative path inside the release")
        path = q(f"{layout.release(number)}/{'/'.join(parts)}")
        conn.run(f"runuser -u {q(layout.user)} -- sh -c "
                 + q(f'set -e; mkdir -p "$(dirname {path})"; cat > {path}'),
                 stdin=data)


def write_release_files(conn: Connection, layout: Layout, number: int, env: dict[str, str],
                        process_types: dict[str, str]) -> None:
    """The release's env file (0600 root) and start scripts (root-owned, 0755)."""
    env = {**env, "ROOST_RELEASE": f"v{number}"}
    write_file(conn, layout.env_file(number), units.env_text(env), mode="0600")
    conn.run(f"install -d -m 0755 -o root -g root {q(layout.scripts(number))}")
    for ptype, command in process_types.items():
        units.check_ptype(ptype)
        write_file(conn, f"{layout.scripts(number)}/{ptype}.sh",
                   units.start_script(layout, number, command), mode="0755")


def write_units(conn: Connection, files: dict[str, str]) -> bool:
    """Write the unit files (name -> text) that differ, then make systemd read them; False
    when none changed (no reload: that costs a second or more on a busy VM)."""
    changed = False
    for name, text in files.items():
        path = f"{units.UNIT_DIR}/{name}"
        tmp = q(path + ".roost-tmp")
        out = conn.run(f"set -e; umask 022; cat > {tmp}; if cmp -s {tmp} {q(path)}; then "
                       f"rm -f {tmp}; else mv -f {tmp} {q(path)}; echo changed; fi",
                       stdin=text)[1]
        changed = changed or "changed" in out
    if changed:
        conn.run("systemctl daemon-reload")
    return changed


def switch(conn: Connection, layout: Layout, number: int) -> None:
    """Point the ``current`` links at release ``number`` (each link replaced atomically)."""
    links = ((layout.release(number), layout.current),
             (layout.scripts(number), layout.current_scripts),
             (layout.env_file(number), layout.current_env))
    conn.run("set -e; " + " ".join(f"ln -sfn {q(target)} {q(link + '.new')}; "
                                   f"mv -T {q(link + '.new')} {q(link)};"
                                   for target, link in links))


def live_release(conn: Connection, layout: Layout) -> int | None:
    """The release the ``current`` link points at (None before the first)."""
    out = conn.run(f"readlink {q(layout.current)}", check=False)[1].strip()
    tail = out.rpartition("/v")[2]
    return int(tail) if tail.isdigit() else None


def systemctl(conn: Connection, *args: str, check: bool = True) -> str:
    """Run ``systemctl ARGS``; its output."""
    return conn.run("systemctl " + " ".join(q(a) for a in args), check=check)[1]


def unit_state(conn: Connection, unit: str) -> str:
    """``active``, ``activating``, ``failed``, ``inactive``…"""
    return systemctl(conn, "is-active", unit, check=False).strip()


def journal_tail(conn: Connection, unit: str, lines: int = 20) -> str:
    """The last lines a unit logged."""
    return conn.run(f"journalctl --no-pager -o cat -n {lines} -u {q(unit)} 2>/dev/null",
                    check=False)[1].strip()


def prune(conn: Connection, layout: Layout, keep: set[int]) -> None:
    """Remove the app's releases, scripts and env files other than those in ``keep``."""
    keep_re = "|".join(f"v{n}" for n in sorted(keep)) or "none"
    script = (f"cd {q(layout.base)}/releases && for d in v*; do case \"${{d%.ok}}\" in "
              f"{keep_re}) ;; *) rm -rf -- \"$d\" \"../scripts/${{d%.ok}}\" "
              f"{q(units.ETC + '/' + layout.app)}/\"${{d%.ok}}.env\";; esac; done")
    conn.run(script, check=False)


def remove_app(conn: Connection, layout: Layout) -> None:
    """Stop and delete every unit and file of the app, and its user."""
    pattern, glob = q(layout.pattern), layout.pattern  # app names are [a-z0-9-]: safe
    conn.run(f"cd {q(units.UNIT_DIR)} && for u in {glob}; do [ -e \"$u\" ] && "
             "systemctl disable --now \"$u\" >/dev/null 2>&1; done; "
             f"systemctl stop {pattern} >/dev/null 2>&1; rm -f -- {glob}; "
             f"systemctl daemon-reload; systemctl reset-failed {pattern} >/dev/null 2>&1; "
             f"rm -rf {q(layout.base)} {q(units.ETC + '/' + layout.app)}; "
             f"userdel {q(layout.user)} >/dev/null 2>&1; true", check=False)
