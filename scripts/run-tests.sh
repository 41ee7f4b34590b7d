#!/usr/bin/env bash
# The whole test suite, as `make test` runs it: the browser tests (one Chromium and one
# `roost up` for the session; Playwright's sync API keeps an event loop in its process, so
# they get a pytest of their own) run beside the rest, which xdist spreads over workers.
# Most tests wait on servers they started, not on the CPU, so three workers on two cores
# finish sooner than two. Exits non-zero when either run fails; prints both runs' output.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORKERS=${ROOST_TEST_WORKERS:-3}
export ROOST_TEST_POSTGRES_URL=${ROOST_TEST_POSTGRES_URL:-$(cat .pg-test-url)}
browser_log=$(mktemp -t roost-browser-tests.XXXXXX)
trap 'rm -f "$browser_log"' EXIT

"$BIN/pytest" -q tests/dashboard "$@" >"$browser_log" 2>&1 &
browser=$!
"$BIN/pytest" -q -n "$WORKERS" --dist loadgroup --ignore=tests/dashboard "$@"
rest=$?
wait "$browser"
browser_status=$?
echo "---- browser tests (tests/dashboard) ----"
cat "$browser_log"
if [[ $rest -ne 0 || $browser_status -ne 0 ]]; then
  echo "tests failed: the suite exited $rest, the browser tests $browser_status" >&2
  exit 1
fi
