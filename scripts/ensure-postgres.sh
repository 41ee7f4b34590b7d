#!/usr/bin/env bash
# Make a PostgreSQL server available for the test suite and write its URL to .pg-test-url.
# Uses ROOST_TEST_POSTGRES_URL when given; otherwise installs Debian's postgresql when it is
# missing and runs a private, throw-away cluster on 127.0.0.1:${ROOST_TEST_PG_PORT:-54329}.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${ROOST_TEST_POSTGRES_URL:-}" ]]; then
  echo "$ROOST_TEST_POSTGRES_URL" > .pg-test-url; exit 0
fi
PORT="${ROOST_TEST_PG_PORT:-54329}"
DATA="${ROOST_TEST_PG_DATA:-/tmp/roost-test-pg}"
URL="postgresql://postgres@127.0.0.1:${PORT}/postgres"
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
PGBIN="$(find_bin)"
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
  echo "PostgreSQL not found: installing Debian's postgresql package" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  PGBIN="$(find_bin)"
fi
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"; mkdir -p "$DATA"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DATA"
    as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 >/dev/null
  fi
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
fi
echo "$URL" > .pg-test-url
echo "PostgreSQL ready at $URL" >&2
