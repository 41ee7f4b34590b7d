#!/usr/bin/env bash
# PowerDNS Authoritative with its sqlite3 backend, which the DNS tests start on 127.0.0.1
# (a private config dir, unprivileged ports): installs Debian's pdns-server and
# pdns-backend-sqlite3 when missing. The package's own service is kept from starting
# (a policy-rc.d for the length of the install): the tests run their own server.
set -euo pipefail
version() { pdns_server --version 2>&1 | sed -n 's/.*\(PowerDNS Authoritative Server [0-9.]*\).*/\1/p' | head -n1; }
if command -v pdns_server >/dev/null 2>&1 && ls /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql* >/dev/null 2>&1; then
  echo "PowerDNS ready: $(version)" >&2
  exit 0
fi
echo "PowerDNS not found: installing Debian's pdns-server and pdns-backend-sqlite3" >&2
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
policy=/usr/sbin/policy-rc.d
made_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [[ -n $made_policy ]]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  pdns-server pdns-backend-sqlite3 >/dev/null
echo "PowerDNS ready: $(version)" >&2
