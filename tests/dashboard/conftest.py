"""Browser tests: one Debian Chromium driven by Playwright and one shared `roost up` for the
whole session; every page a test opens is screenshotted under tests/.artifacts/dashboard/ and
must log no JavaScript error."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, home_for, shared, start_server, stop_server
from tests.orchestration.echo_addon import KIND as ECHO_KIND

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / ".artifacts" / "dashboard"

try:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev lock installs it
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="session")
def roost(tmp_path_factory: pytest.TempPathFactory, wheelhouse: dict[str, str]
          ) -> Iterator[Server]:
    """One `roost up` for every browser test, with the app ``web`` created."""
    tmp = tmp_path_factory.mktemp("dashboard")
    # Builds see the wheelhouse (a sibling of tmp) and tmp/shared; start_server finds both.
    # The echo add-on (a real one, made for the tests) shows that add-on panels need no
    # dashboard change.
    server = start_server(tmp, {"ROOST_ADDON_KINDS": ECHO_KIND, "PYTHONPATH": str(ROOT)})
    server.extra["shared"] = str(shared(tmp))
    server.extra["wheelhouse"] = json.dumps(wheelhouse)
    try:
        yield server
    finally:
        stop_server(server)
        shutil.rmtree(home_for(tmp).parent, ignore_errors=True)


@pytest.fixture(scope="session")
def token(roost: Server) -> str:
    """The admin API token `roost up` wrote."""
    return str(json.loads((roost.home / "credentials.json").read_text())["token"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """The one Chromium of the session (Debian's, never a downloaded one)."""
    if sync_playwright is None or not CHROMIUM.exists():
        pytest.fail("browser tests need playwright (requirements-dev.lock) and "
                    "/usr/bin/chromium (`make chromium`)", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.expected: list[str] = []  # console lines a test provokes on purpose
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(e in message.text for e in self.expected):
            self.errors.append(f"{message.text} at {self.page.url}")

    def shot(self, name: str) -> Path:
        """Keep a full-page screenshot of what the page shows now."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target


def log_in(page: Page, url: str, token: str) -> None:
    """Log in through the form, as a person would."""
    page.goto(url + "/")
    page.get_by_label("API token").fill(token)
    with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
        page.get_by_role("button", name="Log in").click()
    status = answer.value.status
    try:
        page.wait_for_selector("h2:text('Apps')")
    except Exception as exc:  # say what the browser shows instead
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "login-failed.png"))
        raise AssertionError(f"login answered {status}; the page at {page.url} shows: "
                             f"{page.locator('body').inner_text()[:500]!r}") from exc


@pytest.fixture(scope="session")
def session_state(browser: Browser, roost: Server, token: str) -> Iterator[dict[str, object]]:
    """The cookies of one dashboard login, reused by every test's fresh context."""
    context = browser.new_context()
    page = context.new_page()
    log_in(page, roost.url, token)
    state = context.storage_state()
    context.close()
    yield dict(state)


@pytest.fixture
def context(browser: Browser, session_state: dict[str, object]) -> Iterator[BrowserContext]:
    """A logged-in browser context of the test's own."""
    made = browser.new_context(storage_state=session_state,  # type: ignore[arg-type]
                               timezone_id="Europe/Paris", viewport={"width": 1280, "height": 900})
    made.set_default_timeout(30_000)
    yield made
    made.close()


@pytest.fixture
def watched(context: BrowserContext) -> Iterator[Watched]:
    """A logged-in page; the test fails if any page it showed logged a JavaScript error."""
    w = Watched(context.new_page())
    yield w
    assert w.errors == [], "JavaScript errors:\n" + "\n".join(w.errors)


GATE_BUILDPACK = """#!/bin/sh
echo "waiting for the gate"
while [ ! -e {gate} ]; do sleep 0.05; done
echo "gate open"
"""


def cli_ok(server: Server, *args: str, timeout: float = 300) -> str:
    """Run the real CLI against the server; fail the test with its output when it fails."""
    done = server.roost(*args, timeout=timeout)
    assert done.returncode == 0, f"roost {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def gate(server: Server) -> Path:
    """The file the app's first buildpack waits for (builds see the shared folder read-only)."""
    return Path(server.extra["shared"]) / "gate"


@pytest.fixture(scope="session")
def web(roost: Server) -> str:
    """The app ``web``: the Python example's buildpack behind a gate the test opens, so a
    build can be watched while it runs, and pip pointed at the local wheelhouse."""
    cli_ok(roost, "apps", "create", "web")
    wheels = json.loads(roost.extra["wheelhouse"])
    cli_ok(roost, "config", "set", "web", *(f"{k}={v}" for k, v in wheels.items()))
    bp = Path(roost.extra["shared"]).parent / "gate-bp"
    (bp / "bin").mkdir(parents=True)
    (bp / "bin" / "detect").write_text("#!/bin/sh\necho gate\n")
    (bp / "bin" / "compile").write_text(GATE_BUILDPACK.format(gate=gate(roost)))
    (bp / "bin" / "release").write_text("#!/bin/sh\necho '--- {}'\n")
    for f in (bp / "bin").iterdir():
        f.chmod(0o755)
    cli_ok(roost, "buildpacks", "set", "web", str(bp), "python")
    return "web"


def releases(server: Server, app: str = "web") -> list[dict[str, object]]:
    """The app's releases, newest first, as the CLI lists them."""
    listed: list[dict[str, object]] = json.loads(cli_ok(server, "releases", app, "--json"))
    return listed


@pytest.fixture
def deployed(roost: Server, web: str) -> str:
    """``web`` with at least one live release (deployed by the CLI when it has none)."""
    if not any(r["current"] for r in releases(roost, web)):
        gate(roost).touch()
        cli_ok(roost, "deploy", web, str(EXAMPLES / "python-app"))
    return web


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
