#!/usr/bin/env bash
# Make git available: Roost serves `git push` with git's own `git http-backend`, and the tests
# push with a real git client. Installs Debian's git package when it is missing.
set -euo pipefail
if ! command -v git >/dev/null 2>&1 || [[ ! -x "$(git --exec-path)/git-http-backend" ]]; then
  echo "git not found: installing Debian's git package" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null
fi
echo "git ready: $(git --version)" >&2
