"""The privilege boundary: what every app and build process runs as, and what it sees.

This is the one module that decides it (STYLE.md item 15). Each web, worker, one-off and
build process starts through bubblewrap (``bwrap``, Debian's package, the sandbox Flatpak
uses) and sees:

- its release at ``/app`` (``HOME=/app``) through an overlay whose writes land on a private
  tmpfs that disappears when the process exits: the release directory other processes run
  from is bound read-only underneath and never changes (a build instead sees its build,
  cache and buildpack directories read-write at their own paths, and its env dir read-only);
- a private ``/tmp``; the system's ``/usr`` (with the ``/bin``, ``/lib*`` links), a few
  files of ``/etc`` and the interpreter prefix a release's virtualenv names, all read-only;
- its own PID, IPC and UTS namespaces (``/proc`` shows only its own processes), and
  ``no_new_privs`` (bwrap sets it); never ``ROOST_HOME``, never another app.

The network is shared: apps reach their databases and APIs and bind loopback addresses.

When Roost runs as root the sandbox starts as root (to mount the overlay) and drops to the
app's own user (:mod:`roost.runtime.users`) with ``setpriv``, clearing every capability.
Without root, bwrap makes a user namespace; the process keeps Roost's own user, so the
filesystem views are still separate but users are not (and where the kernel refuses
overlayfs in a user namespace, ``/app`` is read-only instead of ephemeral).

Signals: Roost signals a process's whole group; for a sandbox every member but bwrap
itself (:func:`roost.runtime.spawn.signal_group`), so that a SIGTERM reaches the app and
not the sandbox around it (bwrap would die and take the app with it at once). bwrap's
``--new-session`` is not used: the process already starts in a session of its own without
a controlling terminal (so TIOCSTI has no terminal to inject into), and a second session
would take the app out of the group Roost signals.

bwrap's ``--die-with-parent`` ties a sandbox to the thread that forked it, so every sandbox
is forked from one long-lived thread (:func:`roost.runtime.spawn.popen`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import RuntimeFailure

APP_DIR = "/app"
RELEASE_MOUNT = "/run/roost/release"  # the read-only lower layer of /app's overlay
OVERLAY_DIR = "/run/roost/overlay"  # its private tmpfs (upper and work directories)
ETC = ("alternatives", "ca-certificates", "ca-certificates.conf", "gai.conf", "group",
       "host.conf", "hosts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
       "mime.types", "nsswitch.conf", "os-release", "passwd", "protocols", "resolv.conf",
       "services", "ssl", "timezone", "debian_version", "pki", "npmrc")
MISSING = ("bubblewrap (bwrap) is not installed, so Roost cannot sandbox apps: install it "
           "(apt-get install bubblewrap) or set ROOST_SANDBOX=off to run apps unsandboxed")
# Inside the sandbox, as root (or a user namespace's root): join the process's cgroups
# through the descriptors Roost opened (writing 0 moves the writer), so that nothing the app
# forks escapes them; mount the overlay; then drop to the app's user without capabilities.
INNER = (
    'for fd in $ROOST_CGROUP_FDS; do eval "echo 0 >&$fd && exec $fd>&-" || exit 125; done; '
    'if [ -n "$ROOST_OVERLAY" ]; then '
    f'mount -t overlay roost -o "lowerdir={RELEASE_MOUNT},upperdir={OVERLAY_DIR}/upper,'
    f'workdir={OVERLAY_DIR}/work$ROOST_OVERLAY" {APP_DIR} 2>/dev/null || '
    # Kernels that refuse overlayfs in a user namespace (Roost not root): read-only /app.
    f'{{ [ "$ROOST_OVERLAY" = ,userxattr ] && mount --bind {RELEASE_MOUNT} {APP_DIR}; }} '
    '|| { echo "roost: cannot mount the release at /app" >&2; exit 125; }; fi; '
    'cd "$ROOST_CHDIR" || exit 125; unset ROOST_OVERLAY ROOST_CHDIR ROOST_CGROUP_FDS; '
    'exec setpriv "$@"'
)
_etc_lock = threading.Lock()
_etc_dirs: dict[Path | None, tuple[Path, tuple[int, ...]]] = {}


@dataclass(frozen=True)
class Identity:
    """A Unix user a sandboxed process runs as."""

    name: str
    uid: int
    gid: int


@dataclass
class View:
    """What one sandboxed process sees besides the system's read-only base."""

    release: Path | None = None  # shown at /app with private, ephemeral writes
    writable: list[Path] = field(default_factory=list)  # bound read-write at their own path
    readonly: list[Path] = field(default_factory=list)  # bound read-only at their own path
    chdir: str = APP_DIR


def bwrap_path() -> str | None:
    """Where bwrap is installed, or None."""
    return shutil.which("bwrap", path="/usr/bin:/usr/local/bin:/bin")


def require() -> str:
    """bwrap's path; RuntimeFailure saying how to install it when it is missing."""
    found = bwrap_path()
    if found is None:
        raise RuntimeFailure(MISSING)
    return found


def runtime_paths(release: Path, home: Path | None = None) -> list[Path]:
    """Directories outside ``/usr`` that a release's programs need read-only: the prefix of
    the interpreter its virtualenv was made from (pyenv, /opt); never inside ROOST_HOME."""
    found: list[Path] = []
    cfg = release / ".venv" / "pyvenv.cfg"
    try:
        lines = cfg.read_text().splitlines() if not cfg.is_symlink() else []
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip().startswith("/"):
            prefix = Path(os.path.realpath(value.strip())).parent
            if _outside_system(prefix) and not _inside(prefix, home):
                found.append(prefix)
    return found


def _outside_system(path: Path) -> bool:
    return path != Path("/") and not _inside(path, Path("/usr"))


def _inside(path: Path, parent: Path | None) -> bool:
    if parent is None:
        return False
    parent = Path(os.path.realpath(parent))
    return path == parent or parent in path.parents


def command(bwrap: str, view: View, argv: list[str], identity: Identity | None,
            cgroup_fds: list[int] | None = None, home: Path | None = None) -> list[str]:
    """The full command line that runs ``argv`` inside the sandbox described by ``view``."""
    as_root = os.geteuid() == 0
    args = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "roost", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
    if not as_root:
        args += ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "CAP_SYS_ADMIN"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    args += ["--ro-bind", str(etc_dir(home)), "/etc"]
    bound = {str(p) for p in [*view.readonly, *view.writable]}
    made: set[str] = set()
    binds = [("--ro-bind", p) for p in view.readonly] + [("--bind", p) for p in view.writable]
    for flag, path in sorted(binds, key=lambda b: len(b[1].parts)):
        # bwrap would copy the modes of the host's parents (ROOST_HOME's 0700 among them),
        # leaving the process unable to reach its own directories: make them 0755.
        for parent in reversed(path.parents):
            name = str(parent)
            if name in ("/", "/tmp") or name in bound or name in made:
                continue
            made.add(name)
            args += ["--perms", "0755", "--dir", name]
        args += [flag, str(path), str(path)]
    env_flags = ["--setenv", "ROOST_CHDIR", view.chdir]
    if view.release is not None:
        # The overlay's upper root is /app itself: open to the app's user (the release's
        # directories are group-writable for its group, see seal_release).
        args += ["--ro-bind", str(view.release), RELEASE_MOUNT, "--tmpfs", OVERLAY_DIR,
                 "--perms", "0777", "--dir", f"{OVERLAY_DIR}/upper",
                 "--dir", f"{OVERLAY_DIR}/work", "--dir", APP_DIR]
        # In a user namespace, overlayfs keeps its metadata in user.* xattrs.
        env_flags += ["--setenv", "ROOST_OVERLAY", "," if as_root else ",userxattr"]
    drop = ["--inh-caps", "-all", "--bounding-set", "-all"]
    if identity is not None and as_root:
        drop = ["--reuid", str(identity.uid), "--regid", str(identity.gid), "--clear-groups",
                *drop]
    inner = [*args, *env_flags, "--chdir", "/", "--", "/bin/bash", "-c", INNER, "roost-sandbox",
             *drop, "--", *argv]
    if cgroup_fds:
        inner[1:1] = ["--setenv", "ROOST_CGROUP_FDS", " ".join(map(str, cgroup_fds))]
    return inner


@dataclass
class Jail:
    """How one process is sandboxed: its view, its user and the cgroups it joins."""

    bwrap: str
    view: View
    identity: Identity | None = None
    cgroup_files: list[str] = field(default_factory=list)
    home: Path | None = None
    fds: list[int] = field(default_factory=list)  # cgroup.procs, open for the next process

    def wrap(self, argv: list[str], env: dict[str, str], cwd: Path
             ) -> tuple[list[str], dict[str, str], Path]:
        """The sandboxed command line, its environment (``ROOST_*`` vars naming host paths
        in the release shown at ``/app``) and the directory to start it in. The process must
        inherit :attr:`fds` (``pass_fds``); :meth:`close_fds` once it started."""
        env = dict(env)
        release = self.view.release
        if release is not None:
            host = str(release)
            for key, value in env.items():  # the platform's own vars, e.g. the asset manifest
                if key.startswith("ROOST_") and (value == host or value.startswith(host + "/")):
                    env[key] = APP_DIR + value[len(host):]
            env["HOME"] = APP_DIR
        self.close_fds()
        for path in self.cgroup_files:  # joined from inside: see INNER
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            self.fds.append(fd)
        return command(self.bwrap, self.view, argv, self.identity, self.fds,
                       self.home), env, Path("/")

    def close_fds(self) -> None:
        """Close the cgroup descriptors of the last :meth:`wrap` (once the process holds
        them)."""
        while self.fds:
            os.close(self.fds.pop())


def for_release(enabled: bool, release: Path, identity: Identity | None,
                home: Path | None = None, cgroup_files: list[str] | None = None,
                extra: tuple[str | Path, ...] = ()) -> Jail | None:
    """The sandbox of an app process running ``release`` (None when sandboxing is off);
    ``extra``: more directories it sees read-only (ROOST_SANDBOX_PATHS)."""
    if not enabled:
        return None
    paths = [*runtime_paths(release, home), *(Path(p) for p in extra
                                               if not _overlaps(Path(p), home))]
    view = View(release=release, readonly=list(dict.fromkeys(paths)))
    return Jail(require(), view, identity, list(cgroup_files or []), home)


def identity(kind: str, app: str, requested: str | None) -> Identity | None:
    """Who a process of ``app`` runs as (``kind``: ``app`` or ``build``); None keeps
    Roost's own user (not root, or ROOST_APP_USER empty)."""
    from roost.runtime import users

    found = users.for_app(kind, app, requested)
    return None if found is None else Identity(*found)


def seal_release(directory: Path, group: int | None = None) -> None:
    """Make an unpacked release root's: readable by all, writable by nobody but root and,
    when given, the app's ``group``. The app only ever reaches it bound read-only under
    the overlay of its sandbox, so the group's write bit only lets its writes there (which
    land on the overlay's private tmpfs) succeed as they would on a Heroku dyno."""
    as_root = os.geteuid() == 0
    gid = group if as_root and group is not None else 0
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files, None]:
            path = os.path.join(root, name) if name is not None else root
            st = os.lstat(path)
            if as_root and (st.st_uid or st.st_gid != gid):
                os.lchown(path, 0, gid)
            if os.path.islink(path):
                continue
            mode = st.st_mode & 0o777 & ~0o022  # no setuid/setgid, no group/other writes
            mode |= 0o555 if os.path.isdir(path) or mode & 0o100 else 0o444
            os.chmod(path, mode | (0o020 if gid else 0))


def etc_dir(home: Path | None) -> Path:
    """A root-owned copy of the few /etc entries programs need (names, DNS, certificates,
    time zone), bound at /etc in one mount; made once per Roost home and start."""
    stamp = tuple(_mtime(f"/etc/{name}") for name in ("passwd", "group", "resolv.conf"))
    with _etc_lock:
        found = _etc_dirs.get(home)
        if found is not None and found[1] == stamp:  # rebuilt when users are added
            return found[0]
        target = (home / "sandbox" / "etc") if home is not None else \
            found[0] if found is not None else Path(tempfile.mkdtemp(prefix="roost-etc-"))
        fresh = target.with_name(f".etc-{os.getpid()}")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True, mode=0o755)
        for name in ETC:
            source = Path("/etc") / name
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, fresh / name, symlinks=True,
                                ignore=shutil.ignore_patterns("private"))
            elif source.exists() or source.is_symlink():
                shutil.copy2(source, fresh / name, follow_symlinks=False)
        shutil.rmtree(target, ignore_errors=True)
        fresh.rename(target)
        os.chmod(target, 0o755)
        _etc_dirs[home] = (target, stamp)
        return target


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def write_private(directory: Path, relpath: str, data: bytes) -> None:
    """Write ``data`` at ``directory/relpath`` without following any symlink on the way:
    every component is opened with O_NOFOLLOW relative to its parent, a symlink or other
    non-regular entry at the target is replaced, and the file lands by an atomic rename."""
    parts = [p for p in relpath.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"{relpath!r} is not a relative path inside the release")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(directory, flags)
    try:
        for part in parts[:-1]:
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link or file put there
                    os.unlink(part, dir_fd=fd)
                elif exc.errno != errno.ENOENT:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = child
        tmp = f".{parts[-1]}.roost-tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=fd)
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o644, dir_fd=fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view):]
        finally:
            os.close(out)
        os.rename(tmp, parts[-1], src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


def app_group(app: str, requested: str | None) -> int | None:
    """The group a release of ``app`` is sealed for (see :func:`seal_release`)."""
    found = identity("app", app, requested)
    return None if found is None else found.gid


def for_build(enabled: bool, identity: Identity | None, writable: list[Path],
              readonly: list[Path], chdir: Path, extra: tuple[str | Path, ...] = (),
              home: Path | None = None) -> Jail | None:
    """The sandbox of a build step: ``writable`` (build, cache, home and buildpack dirs)
    and ``readonly`` (the env dir) at their own paths, nothing else of ROOST_HOME."""
    if not enabled:
        return None
    paths = [*readonly, *(Path(p) for p in extra if not _overlaps(Path(p), home))]
    view = View(writable=list(writable), readonly=paths, chdir=str(chdir))
    return Jail(require(), view, identity, [], home)


def give(paths: list[Path], identity: Identity | None) -> None:
    """Hand ``paths`` (recursively, links themselves) to ``identity`` when Roost is root."""
    if identity is None or os.geteuid() != 0:
        return
    for top in paths:
        for root, dirs, files in os.walk(top):
            for name in [*dirs, *files, None]:
                path = os.path.join(root, name) if name is not None else root
                st = os.lstat(path)
                if (st.st_uid, st.st_gid) != (identity.uid, identity.gid):
                    os.lchown(path, identity.uid, identity.gid)


def _overlaps(path: Path, home: Path | None) -> bool:
    """Whether ``path`` is inside ``home`` or holds it: either would show ROOST_HOME."""
    if home is None:
        return False
    real = Path(os.path.realpath(path))
    return _inside(real, home) or _inside(Path(os.path.realpath(home)), real)
