# Roost: the two commands of the quick start are `make up` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
PY     := $(BIN)/python

.PHONY: install install-dev bytecode up test lint typecheck pytest postgres sandbox git chromium docker pdns ssh-hosts vm-hosts clean bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Roost needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9

## install: create .venv and install Roost from the lock file
install: $(BIN)/python
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@$(MAKE) --no-print-directory bytecode

install-dev: install
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.lock

# bytecode: compile every module once, ahead of time. With PYTHONDONTWRITEBYTECODE set (as on
# many CI machines) Python would otherwise compile all of them again in every process: each
# `roost up` spent about 10 s of CPU on it. uv compiles what it installs; this catches Roost's own
# modules and older venvs (up-to-date files are skipped in seconds; a failure only costs speed).
bytecode:
	@$(PY) -m compileall -q $(VENV)/lib roost >/dev/null 2>&1 || true

## up: start Roost in the foreground with embedded defaults and the example app
up: install sandbox git
	$(BIN)/roost up --example

postgres:
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-pgbackrest.sh

## git: git and its http-backend, which serve `git push` deploys
git:
	@bash scripts/ensure-git.sh

## pdns: PowerDNS Authoritative, the self-hosted DNS provider the DNS tests start
pdns:
	@bash scripts/ensure-pdns.sh

## sandbox: bubblewrap, which runs every app and build in its own sandbox
sandbox:
	@bash scripts/ensure-sandbox.sh

## chromium: Debian's Chromium, which the browser tests (tests/dashboard) drive with Playwright
chromium:
	@bash scripts/ensure-chromium.sh

## docker: Docker Engine (Debian docker.io) and the stack image tarball, for the swarm tests
docker:
	@bash scripts/ensure-docker.sh

## ssh-hosts: openssh-server and namespaces tools for the host tests (real sshd test hosts)
ssh-hosts:
	@bash scripts/ensure-ssh-hosts.sh

## vm-hosts: systemd, which each test VM of the `vm` runtime's tests boots as its PID 1
vm-hosts:
	@bash scripts/ensure-vm-hosts.sh

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy roost
	$(BIN)/lint-imports

## test: lint, type-check and run the whole suite on SQLite and PostgreSQL
# The browser tests (tests/dashboard) run in a pytest of their own: Playwright's sync API keeps
# an event loop running in its process while the browser lives, which asyncio.run() refuses.
test: install-dev postgres sandbox git chromium docker pdns ssh-hosts vm-hosts lint
	bash scripts/run-tests.sh

bench: install-dev
	$(UV) pip install --quiet --python $(PY) -r requirements-bench.lock
	@bash scripts/ensure-bench-tools.sh
	@bash scripts/ensure-vm-hosts.sh
	@bash scripts/ensure-pgbackrest.sh

clean:
	rm -rf $(VENV) .pg-test-url
