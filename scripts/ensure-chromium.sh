#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests (Playwright drives
# it through executable_path; Playwright's own browser downloads are never used).
set -euo pipefail
if [[ ! -x /usr/bin/chromium ]]; then
  echo "chromium not found: installing Debian's chromium package" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
fi
echo "chromium ready: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)" >&2
