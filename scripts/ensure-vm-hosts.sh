#!/usr/bin/env bash
# Make what the `vm` runtime's tests need available: Debian's systemd (each test VM boots it
# as PID 1 in namespaces of its own, see tests/hosts/vmhosts.py), python3 (the legacy test
# app) and what the ssh test hosts need (scripts/ensure-ssh-hosts.sh). Nothing is started.
set -euo pipefail
bash "$(dirname "$0")/ensure-ssh-hosts.sh"
need=()
for pkg in systemd python3; do
  if ! dpkg-query -W -f '${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
    need+=("$pkg")
  fi
done
if (( ${#need[@]} )); then
  echo "installing Debian packages for the vm runtime tests: ${need[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${need[@]}" >/dev/null
fi
if [[ ! -e /sys/fs/cgroup/systemd/cgroup.procs && ! -e /sys/fs/cgroup/cgroup.subtree_control ]]; then
  echo "no cgroup hierarchy for a test VM's systemd at /sys/fs/cgroup" >&2
  exit 1
fi
echo "vm test hosts ready: $(/lib/systemd/systemd --version | head -1)" >&2
