#!/usr/bin/env bash
# Docker Engine for the swarm runtime's tests (tests/swarm), from Debian's docker.io when
# missing, with Pebble (Let's Encrypt's test CA, for their ACME test); and the stack image's
# root filesystem (Debian bookworm + python3 with venv, which the built-in Python buildpack
# needs, and nodejs with npm for the Node.js one) made once with mmdebstrap from Debian
# packages into a tarball that `docker import` loads onto each node (no registry). The
# tests start their own dockerd processes in network namespaces; this script starts none,
# and stops the docker.io service from starting on install.
set -euo pipefail
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
if ((${#missing[@]})); then
  echo "installing for the swarm tests: ${missing[*]}" >&2
  # Installing docker.io must not start a system-wide dockerd (policy-rc.d 101 = "do not").
  policy=/usr/sbin/policy-rc.d
  restore=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null; $SUDO chmod +x $policy
    restore=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  [[ -n $restore ]] && $SUDO rm -f $policy
fi
# The package list is roost/runtime/swarm/images.py's STACK_PACKAGES; a new list is a new
# version in both places (the tarball's name and the image's tag).
tarball=${ROOST_STACK_TARBALL:-/var/cache/roost-stack/stack-bookworm-3.tar}
if [[ ! -f $tarball ]]; then
  echo "making the swarm stack image's root filesystem (mmdebstrap, about 2 minutes)" >&2
  $SUDO mkdir -p "$(dirname "$tarball")"
  $SUDO mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,nodejs,npm,ca-certificates bookworm "$tarball.tmp.tar"
  $SUDO mv "$tarball.tmp.tar" "$tarball"
  # Earlier versions' tarballs (225 MB and more each) are of no further use.
  for old in /var/cache/roost-stack/stack-bookworm-*.tar; do
    if [[ $old != "$tarball" ]]; then $SUDO rm -f "$old"; fi
  done
fi
