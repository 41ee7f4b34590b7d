#!/usr/bin/env bash
# Make bubblewrap (bwrap), which sandboxes every app and build process, available: installs
# Debian's bubblewrap package when it is missing. Also checks the helpers the sandbox uses
# (mount, setpriv from util-linux), which every Debian system has.
set -euo pipefail
if ! command -v bwrap >/dev/null 2>&1; then
  echo "bubblewrap not found: installing Debian's bubblewrap package" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null
fi
for tool in mount setpriv; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing: apt-get install util-linux" >&2; exit 1; }
done
echo "bubblewrap ready: $(bwrap --version)" >&2
