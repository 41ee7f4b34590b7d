"""Loopback-only listening for app processes: a cgroup BPF hook that rewrites their binds.

An app must be reached through the router only, but many bind every interface: Heroku's own
examples say ``--bind 0.0.0.0:$PORT``, ``python -m http.server`` and Node's
``listen(PORT)`` do it by default. Refusing those binds would break ordinary apps, so the
kernel rewrites them instead, the way a cgroup ``bind4``/``bind6`` program can (systemd's
``SocketBind*`` settings use the same hooks): any IPv4 address other than 127.0.0.0/8
becomes 127.0.0.1, and any IPv6 address other than ``::1`` or a mapped 127.x address
becomes ``::ffff:127.0.0.1`` (so a dual-stack ``::`` listener still takes the router's
IPv4 connections). Nothing in the process can undo it: the hook sits on a cgroup the app's
user cannot leave.

The two programs are a few instructions each, assembled here and loaded with the ``bpf``
system call, so no compiler or BPF toolchain is needed. They need root and a cgroup v2
hierarchy (the unified one of a hybrid v1 system will do); :func:`attach` says why not
otherwise, and processes then bind where they ask, which the README states.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from pathlib import Path

PROG_TYPE_CGROUP_SOCK_ADDR = 18
INET4_BIND, INET6_BIND = 8, 9
PROG_LOAD, PROG_ATTACH = 5, 8
_SYSCALL = {"x86_64": 321, "aarch64": 280}
LOG_SIZE = 65536


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    if imm >= 1 << 31:
        imm -= 1 << 32  # the immediate is a signed 32-bit field
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


LDX_W, STX_W, MOV32_K, AND32_K, MOV64_K = 0x61, 0x63, 0xB4, 0x54, 0xB7
JEQ32_K, JNE32_K, JA, EXIT = 0x16, 0x56, 0x05, 0x95
LOOPBACK4 = 0x0100007F  # 127.0.0.1 as the kernel stores it (network order, read little-endian)
MAPPED = 0xFFFF0000  # the third word of ::ffff:a.b.c.d
LOOPBACK6_LAST = 0x01000000  # the last word of ::1

# struct bpf_sock_addr: user_ip4 at 4, user_ip6[4] at 8..20. r1 is the context.
BIND4 = b"".join([
    _insn(LDX_W, 2, 1, 4),                 # w2 = user_ip4
    _insn(AND32_K, 2, imm=0xFF),           # its first octet
    _insn(JEQ32_K, 2, off=2, imm=127),     # 127.x.y.z: leave it
    _insn(MOV32_K, 3, imm=LOOPBACK4),
    _insn(STX_W, 1, 3, 4),                 # user_ip4 = 127.0.0.1
    _insn(MOV64_K, 0, imm=1),              # allow the bind
    _insn(EXIT),
])
BIND6 = b"".join([
    _insn(LDX_W, 2, 1, 8),                     # 0: word 0
    _insn(JNE32_K, 2, off=10, imm=0),          # 1: -> rewrite (12)
    _insn(LDX_W, 2, 1, 12),                    # 2: word 1
    _insn(JNE32_K, 2, off=8, imm=0),           # 3: -> rewrite
    _insn(LDX_W, 2, 1, 16),                    # 4: word 2
    _insn(LDX_W, 3, 1, 20),                    # 5: word 3
    _insn(JNE32_K, 2, off=2, imm=0),           # 6: -> mapped (9)
    _insn(JEQ32_K, 3, off=11, imm=LOOPBACK6_LAST),  # 7: ::1 -> allow (19)
    _insn(JA, off=3),                          # 8: -> rewrite
    _insn(JNE32_K, 2, off=2, imm=MAPPED),      # 9: mapped? else -> rewrite
    _insn(AND32_K, 3, imm=0xFF),               # 10: first octet of the IPv4 address
    _insn(JEQ32_K, 3, off=7, imm=127),         # 11: ::ffff:127.x -> allow
    _insn(MOV32_K, 2, imm=0),                  # 12: rewrite to ::ffff:127.0.0.1
    _insn(STX_W, 1, 2, 8),
    _insn(STX_W, 1, 2, 12),
    _insn(MOV32_K, 2, imm=MAPPED),
    _insn(STX_W, 1, 2, 16),
    _insn(MOV32_K, 2, imm=LOOPBACK4),
    _insn(STX_W, 1, 2, 20),
    _insn(MOV64_K, 0, imm=1),                  # 19: allow the bind
    _insn(EXIT),
])


def _bpf(command: int, attr: bytes) -> int:
    number = _SYSCALL.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"no bpf system call number for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(attr, 128)
    result = int(libc.syscall(number, command, buffer, 128))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _load(program: bytes, attach_type: int) -> int:
    insns = ctypes.create_string_buffer(program, len(program))
    license_text = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(LOG_SIZE)
    attr = struct.pack("<IIQQIIQII16sII", PROG_TYPE_CGROUP_SOCK_ADDR, len(program) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license_text), 1, LOG_SIZE,
                       ctypes.addressof(log), 0, 0, b"roost_loopback", 0, attach_type)
    try:
        return _bpf(PROG_LOAD, attr)
    except OSError as exc:
        detail = log.value.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise OSError(exc.errno, f"{exc.strerror} {detail[0]}".strip()) from exc


def attach(cgroup_dir: Path) -> str | None:
    """Make every process in ``cgroup_dir`` (a cgroup v2 directory) and below it listen on
    loopback only. Returns None when done, else why it could not be done. Attaching again
    replaces the programs of an earlier run instead of adding to them."""
    if os.geteuid() != 0:
        return "Roost is not root"
    try:
        directory = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return f"cannot open {cgroup_dir}: {exc.strerror}"
    try:
        for program, attach_type in ((BIND4, INET4_BIND), (BIND6, INET6_BIND)):
            loaded = _load(program, attach_type)
            try:
                _bpf(PROG_ATTACH, struct.pack("<IIII", directory, loaded, attach_type, 0))
            finally:
                os.close(loaded)  # the attachment keeps the program alive
    except OSError as exc:
        return f"the kernel refused the bind hook ({exc.strerror})"
    finally:
        os.close(directory)
    return None
