"""`roost email`: an app's mail: log, capture inbox, one message, suppressions, webhook, DNS."""

from __future__ import annotations

from urllib.parse import quote

import typer

from roost.cli.client import Client
from roost.cli.groups import group
from roost.cli.output import escape, ok, print_json, print_table

app = group("An app's email: log, inbox, suppressions, webhook, DNS records.", default="log")
suppressions = group("Addresses an app's domain no longer sends to.")
app.add_typer(suppressions, name="suppressions")

AppArg = typer.Argument(..., metavar="APP")
JsonOpt = typer.Option(False, "--json", help="JSON output")


@app.command("log")
def email_log(app_name: str = AppArg, json: bool = JsonOpt,
              to: str = typer.Option("", "--to", metavar="ADDRESS", help="one recipient"),
              event: str = typer.Option("", "--event", help="accepted, delivered, failed, "
                                        "bounced, complained, captured"),
              limit: int = typer.Option(100, "-n", help="how many events")) -> None:
    """List APP's mail events, newest first."""
    data = Client().request("GET", f"/apps/{app_name}/email/log",
                            params={"to": to, "event": event, "limit": limit})
    if json:
        print_json(data)
        return
    rows = [{**e, "event": e["event"] + (f" ({e['severity']})" if e["severity"] else ""),
             "what": e["subject"] or e["message_id"], "detail": escape(e["detail"])}
            for e in data]
    print_table(rows, [("time", "TIME"), ("event", "EVENT"), ("recipient", "RECIPIENT"),
                       ("what", "MESSAGE"), ("detail", "DETAIL")],
                empty=f"no mail events for {app_name} yet")


@app.command("inbox")
def email_inbox(app_name: str = AppArg, json: bool = JsonOpt) -> None:
    """List the mail captured for APP (no relay is configured)."""
    data = Client().request("GET", f"/apps/{app_name}/email/inbox")
    if json:
        print_json(data)
        return
    rows = [{**m, "to": ", ".join(m["to"])} for m in data]
    print_table(rows, [("id", "ID"), ("time", "TIME"), ("sender", "FROM"), ("to", "TO"),
                       ("subject", "SUBJECT")],
                empty=f"no captured mail for {app_name}")


@app.command("show")
def email_show(app_name: str = AppArg, message: int = typer.Argument(..., metavar="ID"),
               json: bool = JsonOpt) -> None:
    """Show one message of APP: headers, DKIM result, text and events."""
    data = Client().request("GET", f"/apps/{app_name}/email/messages/{message}")
    if json:
        print_json(data)
        return
    for name, value in data["headers"]:
        print(f"{name}: {value}")
    print(f"\nDKIM: {data['dkim']} ({data['dkim_detail']})")
    for rcpt, status in data["deliveries"].items():
        print(f"  {rcpt}: {status}")
    print("\n" + (data["text"] or "(HTML only: see the dashboard)"))


@suppressions.command("list")
def suppressions_list(app_name: str = AppArg, json: bool = JsonOpt) -> None:
    """List APP's suppressed addresses."""
    data = Client().request("GET", f"/apps/{app_name}/email/suppressions")
    if json:
        print_json(data)
        return
    print_table(data, [("address", "ADDRESS"), ("kind", "KIND"), ("created_at", "SINCE"),
                       ("reason", "REASON")], empty=f"{app_name} suppresses no address")


@suppressions.command("remove")
def suppressions_remove(app_name: str = AppArg,
                        address: str = typer.Argument(..., metavar="ADDRESS")) -> None:
    """Send to ADDRESS again."""
    Client().request("DELETE", f"/apps/{app_name}/email/suppressions/{quote(address)}")
    ok(f"{app_name} sends to {address} again")


@app.command("webhook")
def email_webhook(app_name: str = AppArg,
                  url: str = typer.Argument("", metavar="[URL]"),
                  remove: bool = typer.Option(False, "--remove", help="stop posting events")
                  ) -> None:
    """Show APP's event webhook, set it to URL, or remove it."""
    client, path = Client(), f"/apps/{app_name}/email/webhook"
    if remove:
        client.request("DELETE", path)
        ok(f"{app_name}'s mail events are no longer posted")
    elif url:
        client.request("PUT", path, json={"url": url})
        ok(f"{app_name}'s mail events go to {url}, signed with MAILGUN_WEBHOOK_SIGNING_KEY")
    else:
        print(client.request("GET", path)["url"] or f"{app_name} has no webhook")


@app.command("dns")
def email_dns(app_name: str = AppArg, json: bool = JsonOpt) -> None:
    """The SPF, DKIM, DMARC and return-path records APP's domain needs, checked live."""
    data = Client().request("GET", f"/apps/{app_name}/email/dns")
    if json:
        print_json(data)
        return
    print_table(data["records"], [("purpose", "FOR"), ("type", "TYPE"), ("name", "NAME"),
                                  ("value", "VALUE"), ("status", "LIVE")])
    for line in data["problems"]:
        ok(f"[yellow]warning:[/yellow] {escape(line)}: mail still goes out, but receivers "
           "are likely to reject or junk it")


@app.command("rotate-dkim")
def email_rotate(app_name: str = AppArg) -> None:
    """Give APP's domain a new DKIM key; publish the record it prints."""
    data = Client().request("POST", f"/apps/{app_name}/email/dkim/rotate")
    ok(f"{app_name} now signs with selector {data['selector']}; publish:")
    print(f"{data['name']} TXT \"{data['value']}\"")
