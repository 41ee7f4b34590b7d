"""In a real browser: change a config var, scale, follow the log, acknowledge an incident,
and every page of an app shown without a JavaScript error."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import wait_for
from tests.dashboard.conftest import Watched, cli_ok
from tests.e2e.conftest import Server

pytestmark = pytest.mark.xdist_group("browser")


def accept_next(page: Page) -> None:
    """Say yes to the confirmation the next action asks for."""
    page.once("dialog", lambda dialog: dialog.accept())


def config(roost: Server, app: str) -> dict[str, str]:
    values: dict[str, str] = json.loads(cli_ok(roost, "config", app, "--reveal", "--json"))
    return values


def test_change_a_config_var_reveal_and_unset(watched: Watched, roost: Server, deployed: str
                                              ) -> None:
    page = watched.page
    page.goto(f"{roost.url}/apps/{deployed}/config")
    form = page.locator("#config-set")
    form.get_by_label("key").fill("GREETING")
    form.get_by_label("value").fill("hello from the dashboard")
    accept_next(page)
    form.get_by_role("button", name="Set").click()
    expect(page.get_by_role("status")).to_contain_text("Set GREETING; release v",
                                                       timeout=120_000)
    assert config(roost, deployed)["GREETING"] == "hello from the dashboard"
    row = page.locator("#config tr[data-key=GREETING]")
    expect(row.locator(".value")).to_have_text("••••••••")  # masked until revealed
    watched.shot("config")
    page.get_by_role("button", name="Reveal values").click()
    expect(row.locator(".value")).to_have_text("hello from the dashboard")

    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Unset").click()
    assert "GREETING" in config(roost, deployed)  # dismissed: still set
    accept_next(page)
    row.get_by_role("button", name="Unset").click()
    expect(page.get_by_role("status")).to_contain_text("Unset GREETING", timeout=120_000)
    assert "GREETING" not in config(roost, deployed)
    actions = [(e["actor"], e["action"]) for e in _audit(roost)]
    assert ("admin", "config.set") in actions and ("admin", "config.unset") in actions
    assert ("admin", "config.reveal") in actions


def _audit(roost: Server) -> list[dict[str, str]]:
    token = json.loads((roost.home / "credentials.json").read_text())["token"]
    listed: list[dict[str, str]] = httpx.get(roost.url + "/api/v1/audit", headers={
        "Authorization": f"Bearer {token}"}).json()
    return listed


def test_scale_web_to_two_and_back(watched: Watched, context: BrowserContext, roost: Server,
                                   deployed: str) -> None:
    page = watched.page
    board = Watched(context.new_page())  # the apps overview, open in another tab
    board.page.goto(f"{roost.url}/")
    page.goto(f"{roost.url}/apps/{deployed}/processes")
    row = page.locator("#formation tr[data-type=web]")
    row.get_by_label("web processes").fill("2")
    accept_next(page)
    row.get_by_role("button", name="Scale").click()
    expect(page.get_by_role("status")).to_contain_text("Scaled: web=2", timeout=120_000)

    def two_up() -> bool:
        page.goto(f"{roost.url}/apps/{deployed}/processes")
        return page.locator("#ps tr[data-proc^='web.']", has_text="up").count() == 2

    wait_for(two_up, timeout=60, interval=0.5)
    watched.shot("processes-scaled")
    # The overview follows over SSE, without a reload.
    expect(board.page.locator(f"#apps tr[data-app={deployed}] td.procs")).to_have_text("2/2")
    board.shot("apps-live")
    assert board.errors == []
    row = page.locator("#formation tr[data-type=web]")
    row.get_by_label("web processes").fill("1")
    accept_next(page)
    row.get_by_role("button", name="Scale").click()
    expect(page.get_by_role("status")).to_contain_text("Scaled: web=1", timeout=120_000)
    assert ("admin", "ps.scale") in [(e["actor"], e["action"]) for e in _audit(roost)]


def test_log_tab_follows_new_lines_of_one_source(watched: Watched, roost: Server,
                                                 deployed: str) -> None:
    page = watched.page
    page.goto(f"{roost.url}/apps/{deployed}/logs?source=web")
    log = page.locator("#app-log")
    expect(page.locator("#log-state")).to_have_text("live")
    marker = f"/dashboard-live-{time.monotonic_ns()}"
    router = "http://" + roost.env["ROOST_ROUTER_LISTEN"]

    def reached_the_app() -> bool:  # a test before may have left the app restarting
        answer = httpx.get(router + marker, headers={"Host": f"{deployed}.localhost"},
                           timeout=30)
        return answer.status_code < 500

    wait_for(reached_the_app, timeout=60, interval=0.5)
    expect(log).to_contain_text(marker, timeout=30_000)  # arrived over SSE, no reload
    watched.shot("logs")
    lines = [line for line in log.inner_text().splitlines() if line.strip()]
    assert lines and all(" app[web." in line for line in lines)  # only the web processes


def test_acknowledge_an_incident(watched: Watched, roost: Server, web: str,
                                closed_port: int) -> None:
    page = watched.page
    closed = f"http://127.0.0.1:{closed_port}/"
    cli_ok(roost, "monitors", "add", web, "--url", closed, "--interval", "10", "--confirm", "1")

    def open_incident() -> list[dict[str, object]]:
        listed: list[dict[str, object]] = json.loads(
            cli_ok(roost, "incidents", web, "--open", "--json"))
        return listed

    incident = wait_for(open_incident, timeout=90, interval=1)[0]  # type: ignore[index]
    page.goto(f"{roost.url}/apps/{web}/uptime")
    row = page.locator(f"#incidents tr[data-incident='{incident['id']}']")
    expect(row).to_contain_text("Acknowledge")
    watched.shot("uptime-incident")
    accept_next(page)
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text(f"Acknowledged incident #{incident['id']}")
    expect(page.locator(f"#incidents tr[data-incident='{incident['id']}']")
           ).to_contain_text("admin")
    assert open_incident()[0]["acknowledged_by"] == "admin"
    page.goto(f"{roost.url}/")
    expect(page.locator("#apps tr[data-app=web]")).to_contain_text("down")
    watched.shot("apps-with-incident")


def _send_traces(roost: Server, app: str) -> None:
    """40 requests of 850 µs (a 300 µs query inside) through the OpenTelemetry SDK."""
    values = config(roost, app)
    name, _, key = values["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    provider = TracerProvider(resource=Resource.create({"service.name": app}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=values["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/traces", headers={name: key})))
    tracer = provider.get_tracer("test")
    for i in range(40):
        start = time.time_ns()
        with tracer.start_as_current_span(
                "GET /fast", kind=SpanKind.SERVER, start_time=start, end_on_exit=False,
                attributes={"http.route": "/fast", "http.request.method": "GET",
                            "http.response.status_code": 200}) as root:
            db = tracer.start_span("SELECT", kind=SpanKind.CLIENT, start_time=start + 100_000,
                                   attributes={"db.system": "postgresql",
                                               "db.statement": f"SELECT {i}"})
            db.end(end_time=start + 400_000)
        root.end(end_time=start + 850_000)
    provider.force_flush()
    provider.shutdown()


def test_every_page_shows_without_errors(watched: Watched, roost: Server, deployed: str
                                         ) -> None:
    page = watched.page
    _send_traces(roost, deployed)

    def perf_row() -> bool:
        page.goto(f"{roost.url}/apps/{deployed}/perf")
        return page.locator("#endpoints tr", has_text="/fast").count() == 1

    wait_for(perf_row, timeout=30, interval=0.5)
    row = page.locator("#endpoints tr", has_text="/fast")
    expect(row).to_contain_text("µs")  # sub-millisecond latencies keep their precision
    assert "0 ms" not in row.inner_text()
    watched.shot("perf")
    row.get_by_role("link").click()
    expect(page.locator("svg[aria-label='p95 latency']")).to_be_visible()
    watched.shot("perf-endpoint")
    page.locator("a[href*='/traces/']").first.click()
    expect(page.get_by_text("SELECT").first).to_be_visible()
    watched.shot("perf-trace")
    tabs = {"overview": "", "releases": "/releases", "processes": "/processes",
            "config": "/config", "logs": "/logs", "builds": "/builds", "vulns": "/vulns",
            "uptime": "/uptime"}
    for name, path in tabs.items():
        response = page.goto(f"{roost.url}/apps/{deployed}{path}")
        assert response is not None and response.status == 200, name
        expect(page.locator("nav.tabs a.active")).to_be_visible()
        watched.shot(f"tab-{name}")
    page.goto(f"{roost.url}/apps/{deployed}")
    when = page.locator("dd time").first
    assert when.get_attribute("title", timeout=5000).endswith("UTC")  # type: ignore[union-attr]
    assert "UTC" not in when.inner_text()  # shown in the viewer's timezone
    response = page.goto(f"{roost.url}/status/{deployed}")
    assert response is not None and response.status == 200
    watched.shot("status-page")


def test_an_addon_panel_appears_without_dashboard_changes(watched: Watched, roost: Server,
                                                          web: str) -> None:
    page = watched.page
    cli_ok(roost, "addons", "add", web, "echo", "--option", "size=3")
    page.goto(f"{roost.url}/apps/{web}")
    page.locator("nav.tabs").get_by_role("link", name="echo").click()
    panel = page.locator("section[data-addon=echo]")
    expect(panel).to_contain_text("ok")  # the add-on's own health
    expect(panel).to_contain_text("size")  # and whatever its info says
    expect(panel).to_contain_text("ECHO_TOKEN")
    watched.shot("addon-echo")


def test_open_live_streams_hold_up_nothing(roost: Server, web: str,
                                           session_state: dict[str, object]) -> None:
    """Sixty followed logs at once (more than the server's worker threads and store
    connections) leave pages and the API answering."""
    cookies = {str(c["name"]): str(c["value"])
               for c in session_state["cookies"]}  # type: ignore[attr-defined]
    with httpx.Client(base_url=roost.url, cookies=cookies, timeout=30) as client:
        streams = []
        try:
            for _ in range(60):
                stream = client.stream("GET", f"/apps/{web}/logs/stream")
                response = stream.__enter__()
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                streams.append(stream)
            started = time.monotonic()
            assert client.get(f"/apps/{web}/releases").status_code == 200
            token = json.loads((roost.home / "credentials.json").read_text())["token"]
            assert httpx.get(roost.url + "/api/v1/apps", headers={
                "Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
            assert time.monotonic() - started < 10
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)


def test_captured_mail_shows_rendered_in_the_dashboard(watched: Watched, roost: Server
                                                       ) -> None:
    """With no relay, mail an app sends is kept and shown: list, headers, DKIM, the HTML."""
    cli_ok(roost, "apps", "create", "mailer")
    cli_ok(roost, "addons", "add", "mailer", "email", "--option", "domain=mail.example.com")
    key = config(roost, "mailer")["MAILGUN_API_KEY"]
    sent = httpx.post(f"{roost.url}/v3/mail.example.com/messages", auth=("api", key),
                      data={"from": "Shop <shop@mail.example.com>", "to": "ada@example.org",
                            "subject": "Your receipt", "text": "Thanks!",
                            "html": "<h1>Thanks!</h1><script>alert(1)</script>"}, timeout=30)
    assert sent.status_code == 200, sent.text
    # The app's HTML is hostile until shown otherwise: its script must be blocked (and the
    # browser says so on the console, which is the one error this page may show).
    watched.expected.append("Blocked script execution in 'about:srcdoc'")
    page = watched.page
    page.goto(f"{roost.url}/apps/mailer")
    page.locator("nav.tabs a", has_text="email").click()
    page.get_by_role("link", name="Your receipt").first.click()
    expect(page.get_by_text("ada@example.org").first).to_be_visible()
    frame = page.frame_locator("iframe")
    expect(frame.locator("h1")).to_have_text("Thanks!")
    watched.shot("mail-message")
