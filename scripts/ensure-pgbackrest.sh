#!/usr/bin/env bash
# Make pgBackRest (Debian's package) available for the point-in-time-recovery tests.
set -euo pipefail
if command -v pgbackrest >/dev/null 2>&1; then exit 0; fi
echo "pgBackRest not found: installing Debian's pgbackrest package" >&2
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbackrest >/dev/null \
  || { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
       $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbackrest >/dev/null; }
