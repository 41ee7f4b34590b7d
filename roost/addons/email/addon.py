"""The ``email`` add-on: a sending domain per app, reached over SMTP or Mailgun's API.

State keys (stored encrypted by Roost): ``domain``, ``api_key``, ``smtp_login``,
``smtp_password``, ``signing_key``. The config vars are those of Heroku's Mailgun add-on,
plus ``MAILGUN_API_BASE``, ``MAILGUN_WEBHOOK_SIGNING_KEY`` and ``SMTP_URL``.
"""

from __future__ import annotations

from urllib.parse import quote

from roost.addons.base import Addon, AddonEnv, Health, Provisioned, State
from roost.core.secrets import Cipher, load_or_create_key
from roost.errors import InvalidInput, NotFound
from roost.mail import domains


def smtp_endpoint(listen: str) -> tuple[str, int]:
    """Where apps reach the SMTP server (a wildcard listen address means loopback)."""
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "::", "", "[::]"):
        host = "127.0.0.1"
    return host, int(port)


class EmailAddon(Addon):
    """Sending mail from an app's own domain, DKIM-signed, with events and webhooks."""

    kind = "email"
    description = "email: SMTP and a Mailgun-compatible API, DKIM-signed"
    options = {"domain": "the sending domain, e.g. mail.example.com (required)"}

    def __init__(self, env: AddonEnv) -> None:
        super().__init__(env)
        self.settings = env.settings

    def _cipher(self) -> Cipher:
        return Cipher(load_or_create_key(self.settings.home, self.settings.secret_key))

    def provision(self, app: str, options: dict[str, str]) -> Provisioned:
        domain = options.get("domain", "").strip()
        if not domain:
            raise InvalidInput("the email add-on needs a sending domain: "
                               f"roost addons add {app} email --option domain=mail.example.com")
        with self.env.sessions.begin() as session:
            creds = domains.create(session, self._cipher(), app, domain)
        domains.changed()
        state: State = {"domain": creds.domain, "api_key": creds.api_key,
                        "smtp_login": creds.smtp_login, "smtp_password": creds.smtp_password,
                        "signing_key": creds.signing_key}
        return Provisioned(state=state, message=(
            f"sending domain {creds.domain}; publish its DNS records "
            f"(`roost email dns {app}`) so receivers accept its mail"))

    def config_vars(self, app: str, state: State) -> dict[str, str]:
        listen = self.settings.mail_smtp_listen
        host, port = smtp_endpoint(listen) if listen != "off" else ("", 0)
        login, password = state["smtp_login"], state["smtp_password"]
        found = {
            "MAILGUN_API_KEY": state["api_key"], "MAILGUN_DOMAIN": state["domain"],
            "MAILGUN_API_BASE": f"{self.settings.api_url}/v3",
            "MAILGUN_WEBHOOK_SIGNING_KEY": state["signing_key"],
            "MAILGUN_SMTP_LOGIN": login, "MAILGUN_SMTP_PASSWORD": password,
        }
        if host:
            found.update({"MAILGUN_SMTP_SERVER": host, "MAILGUN_SMTP_PORT": str(port),
                          "SMTP_URL": f"smtp://{quote(login, safe='')}:"
                          f"{quote(password, safe='')}@{host}:{port}"})
        return found

    def deprovision(self, app: str, state: State) -> str:
        with self.env.sessions.begin() as session:
            domains.remove(session, app)
        domains.changed()
        return (f"{state['domain']} no longer sends for {app}; mail still queued for it fails "
                "and its log stays readable")

    def info(self, app: str, state: State) -> dict[str, str]:
        s = self.settings
        mode = "relay" if s.mail_relay else "direct to MX" if s.mail_direct else \
            "capture (local inbox; set ROOST_MAIL_RELAY to send)"
        with self.env.sessions.begin() as session:
            selector = domains.row_of_app(session, app).dkim_selector
        return {"domain": state["domain"], "delivery": mode, "dkim_selector": selector,
                "smtp": s.mail_smtp_listen}

    def health(self, app: str, state: State) -> Health:
        with self.env.sessions.begin() as session:
            try:
                domains.row_of_app(session, app)
            except NotFound as exc:
                return Health(ok=False, detail=str(exc))
        return Health(ok=True)
