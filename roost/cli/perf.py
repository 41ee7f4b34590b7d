"""`roost perf`: which endpoints are slow, why, and which deploy made them slower."""

from __future__ import annotations

import typer

from roost.cli.client import Client, CliError
from roost.cli.output import ok, print_json, print_table


def _flags(row: dict[str, object]) -> str:
    flags = []
    if row.get("n_plus_one"):
        flags.append("N+1")
    if row.get("slow_query"):
        flags.append("slow query")
    if row.get("regressed_in"):
        flags.append(f"slower since {row['regressed_in']}")
    return ", ".join(flags)


def perf(
    app_name: str = typer.Argument(..., metavar="APP"),
    endpoint: str = typer.Argument(None, metavar="[ENDPOINT]", help="e.g. 'GET /items/{id}'"),
    since: str = typer.Option("1h", "--since", help="how far back: 30m, 1h, 7d"),
    json: bool = typer.Option(False, "--json"),
    rotate_key: bool = typer.Option(False, "--rotate-key",
                                    help="give the app a new ingest key; the old one is "
                                    "refused at once"),
) -> None:
    """Endpoints ranked by impact, or one endpoint's breakdown and sample traces."""
    client = Client()
    if rotate_key:
        done = client.request("POST", f"/apps/{app_name}/perf/ingest-key")
        where = f"release v{done['release']}" if done["release"] else "its next release"
        ok(f"New ingest key for {app_name} in OTEL_EXPORTER_OTLP_HEADERS ({where}); "
           "the old key is refused from now on")
        if done["error"]:
            raise CliError(f"the new release did not start: {done['error']}")
        return
    if endpoint is None:
        data = client.request("GET", f"/apps/{app_name}/perf", params={"since": since})
        if json:
            print_json(data)
            return
        rows = [{**r, "rpm": f"{r['rpm']:.1f}", "p50": f"{r['p50_ms']:.0f}ms",
                 "p95": f"{r['p95_ms']:.0f}ms", "p99": f"{r['p99_ms']:.0f}ms",
                 "errors": f"{r['error_rate'] * 100:.1f}%", "impact": f"{r['impact']:.1f}",
                 "flags": _flags(r)} for r in data]
        print_table(rows, [("endpoint", "ENDPOINT"), ("rpm", "RPM"), ("p50", "P50"),
                           ("p95", "P95"), ("p99", "P99"), ("errors", "ERRORS"),
                           ("impact", "IMPACT"), ("flags", "FLAGS")],
                    empty=f"no traces from {app_name} in the last {since}: apps send them to "
                    "OTEL_EXPORTER_OTLP_ENDPOINT (set automatically)")
        return
    detail = client.request("GET", f"/apps/{app_name}/perf/endpoint",
                            params={"name": endpoint, "since": since})
    if json:
        print_json(detail)
        return
    s = detail["stats"]
    ok(f"[bold]{endpoint}[/bold]  {s['requests']} requests, p50 {s['p50_ms']:.0f}ms, "
       f"p95 {s['p95_ms']:.0f}ms, p99 {s['p99_ms']:.0f}ms, errors {s['error_rate'] * 100:.1f}%")
    ok("\nA typical request spends (self time per request):")
    for category, ms in sorted(detail["categories"].items(), key=lambda kv: -kv[1]):
        ok(f"  {category:6} {ms:8.1f} ms")
    rows = [{**b, "calls": f"{b['calls_per_request']:.1f}",
             "ms": f"{b['ms_per_request']:.1f}"} for b in detail["breakdown"][:15]]
    print_table(rows, [("category", "KIND"), ("label", "WHAT"), ("calls", "CALLS/REQ"),
                       ("ms", "MS/REQ")], empty="no span breakdown yet")
    for f in detail["findings"]:
        ok(f"[yellow]! {f['summary']}[/yellow]")
    if detail["deploys"]:
        ok("\nDeploys: " + ", ".join(f"{d['release']} at {d['at']}" for d in detail["deploys"]))
    ok("\nSample traces:")
    for t in detail["samples"][:10]:
        ok(f"  {t['trace_id']}  {t['duration_ms']:.1f} ms  {t['reason']}  {t['started_at']}")
