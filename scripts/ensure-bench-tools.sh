#!/usr/bin/env bash
# Peers and load generators the benchmarks need, from Debian's packages when missing:
# wrk (router, sandbox), pgbench and pg_dump (pg_backup, from postgresql), bubblewrap,
# postfix (email: bench/email_delivery.py runs a private instance of it on 127.0.0.1 only).
set -euo pipefail
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
command -v postfix >/dev/null 2>&1 || missing+=(postfix)
if ((${#missing[@]})); then
  echo "installing for the benchmarks: ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  # No system mail server: the benchmark starts its own private Postfix.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
