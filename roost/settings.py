"""Roost's settings: ``ROOST_*`` environment variables over an optional ``roost.toml``.

Read once into one typed :class:`Settings` object. Unknown keys and bad values stop
start-up with a :class:`~roost.errors.ConfigError` naming the key (and the file, for
``roost.toml``). Secrets may be given as ``ROOST_<KEY>_FILE`` pointing at a file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from roost.errors import ConfigError

# Variables read by the CLI or the test harness, not by the server's settings.
CLIENT_ONLY = {"ROOST_API_URL", "ROOST_TOKEN", "ROOST_TEST_POSTGRES_URL", "ROOST_TEST_PG_PORT",
               "ROOST_TEST_PG_DATA"}


def _host_port(value: str, key: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{key} must look like HOST:PORT (e.g. 127.0.0.1:7700), got {value!r}")
    return value


class Settings(BaseModel):
    """Every setting of a Roost server, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".roost")
    database_url: str = ""
    listen: str = "127.0.0.1:7700"
    secret_key: str = ""
    base_domain: str = "localhost"
    router_listen: str = "127.0.0.1:8080"
    object_store: str = ""
    asset_url: str = ""
    public_url: str = ""
    max_build_seconds: int = Field(default=900, ge=10)
    max_slug_mb: int = Field(default=500, ge=1)
    max_processes_per_type: int = Field(default=20, ge=1)
    app_user: str = "auto"  # when root, run apps as: a user, "auto", "" = root (runtime/users.py)
    router_user: str = "auto"  # when root, run Caddy and the resolver as: likewise
    sandbox: str = "on"  # "off" runs apps and builds without bubblewrap (benchmarks only)
    sandbox_paths: list[str] = Field(default_factory=list)  # more read-only dirs (runtimes)
    default_memory: str = "512M"  # per process, unless `roost limits set` says otherwise
    default_cpu: float = Field(default=1.0, gt=0, le=1024)
    default_pids: int = Field(default=512, ge=8)
    health_timeout_seconds: float = Field(default=60.0, gt=0)
    grace_seconds: float = Field(default=30.0, ge=0)
    sms_url: str = ""
    smtp_url: str = ""
    oncall: list[str] = Field(default_factory=list)
    heartbeat_url: str = ""
    advisory_sources: list[str] = Field(
        default_factory=lambda: [
            f"https://osv-vulnerabilities.storage.googleapis.com/{eco}/all.zip"
            for eco in ("PyPI", "npm", "RubyGems")
        ]
    )
    log_level: str = "info"
    app_monitor_interval_seconds: float = Field(default=30.0, ge=10)
    addon_kinds: list[str] = Field(default_factory=list)  # extra kinds: kind=module:Class
    pg_server: list[str] = Field(default_factory=list)  # external PostgreSQL admin URLs
    pg_port: int = Field(default=5433, gt=0, lt=65536)  # the Roost-managed cluster's port
    pg_pitr_days: int = Field(default=7, ge=1, le=3650)  # point-in-time recovery window
    monitor_allow_private: bool = False  # link-local/metadata monitor targets (uptime/addresses)
    instance_name: str = ""  # this control-plane instance's name (default: the host name)
    instance_heartbeat_seconds: float = Field(default=5.0, gt=0, le=60)
    # Email (roost/mail): no relay and no direct delivery = capture into the local inbox.
    mail_relay: str = ""  # smtp://user:pass@host:587 or smtps://…
    mail_direct: bool = False  # deliver to each recipient's MX (dnspython) instead
    mail_mx_port: int = Field(default=25, gt=0, lt=65536)
    mail_smtp_listen: str = "127.0.0.1:2587"  # submission + return path; "off" runs none
    mail_hostname: str = ""  # the name Roost's SMTP server goes by (default: the base domain)
    mail_tls_cert: str = ""  # PEM certificate and key: STARTTLS on the submission port
    mail_tls_key: str = ""
    mail_dns_resolver: str = ""  # IP[:PORT] for `roost email dns` checks; "off" skips them
    mail_rate_app: float = Field(default=1000.0, gt=0)  # messages per second per app
    mail_rate_domain: float = Field(default=1000.0, gt=0)  # per recipient domain
    mail_workers: int = Field(default=16, ge=1, le=64)
    # processes delivering mail beside `roost up` (0: its own threads; roost/mail/deliveryproc.py)
    mail_delivery_processes: int = Field(default=1, ge=0, le=16)
    runtime: str = "local"  # "swarm": apps run as swarm services (DOCKER_HOST, docs/scaling.md)
    stack_image: str = ""  # swarm: the image tasks run slugs in ("" = Roost builds roost-stack)
    swarm_slug_listen: str = ""  # swarm: HOST:PORT where tasks fetch slugs from this host
    swarm_network: str = "roost"  # swarm: the overlay network of app tasks and routers
    # swarm: each node's own Docker Engine, where Roost loads its images (ssh://root@{address};
    # "" = the manager only: load them onto other nodes by hand)
    swarm_node_docker: str = ""
    # DNS (roost/dns): provider credentials, the router's public address, HTTPS for domains.
    public_ip: list[str] = Field(default_factory=list)  # A/AAAA targets of custom domains
    public_host: str = ""  # CNAME target of custom subdomains
    router_tls_listen: str = ""  # HOST:PORT of the router's HTTPS listener ("" = none)
    tls_issuer: str = "acme"  # acme (Let's Encrypt/ZeroSSL) | internal (Caddy's own CA)
    acme_ca: str = ""  # with acme: another CA's ACME directory URL ("" = Let's Encrypt)
    acme_ca_root: str = ""  # PEM file: the root(s) that ACME directory's HTTPS is checked with
    dns_route53_access_key_id: str = ""
    dns_route53_secret_access_key: str = ""
    dns_route53_endpoint_url: str = ""
    dns_powerdns_url: str = ""
    dns_powerdns_key: str = ""
    dns_drift_interval_seconds: float = Field(default=300.0, ge=5)
    dns_propagation_timeout_seconds: float = Field(default=120.0, ge=0)

    @field_validator("listen", "router_listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        return _host_port(value, "listen address")

    @field_validator("instance_name")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
            raise ValueError("must be 1 to 100 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("runtime")
    @classmethod
    def _check_runtime(cls, value: str) -> str:
        if value not in ("local", "swarm"):
            raise ValueError("must be local or swarm")
        return value

    @field_validator("router_tls_listen")
    @classmethod
    def _check_tls_listen(cls, value: str) -> str:
        return _host_port(value, "HTTPS listen address") if value else value

    @field_validator("tls_issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        if value not in ("acme", "internal"):
            raise ValueError("must be acme or internal")
        return value

    @field_validator("acme_ca")
    @classmethod
    def _check_acme_ca(cls, value: str) -> str:
        if value and not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
            raise ValueError("must be the https:// URL of an ACME directory, such as "
                             "https://acme-v02.api.letsencrypt.org/directory")
        return value

    @field_validator("acme_ca_root")
    @classmethod
    def _check_acme_root(cls, value: str) -> str:
        if not value:
            return value
        try:
            text = Path(value).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {value}: {exc}") from exc
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError(f"{value} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        return value

    @field_validator("public_ip")
    @classmethod
    def _check_public_ip(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_address(entry)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address") from None
        return value

    @field_validator("sandbox")
    @classmethod
    def _check_sandbox(cls, value: str) -> str:
        if value not in ("on", "off"):
            raise ValueError("must be on or off")
        return value

    @field_validator("default_memory")
    @classmethod
    def _check_memory(cls, value: str) -> str:
        from roost.errors import InvalidInput
        from roost.sizes import parse_memory

        try:
            parse_memory(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql:", "postgres:", "postgresql+")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("pg_server")
    @classmethod
    def _check_pg(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            try:
                port_ok = parts.port is None or parts.port > 0
            except ValueError:
                port_ok = False
            if parts.scheme not in ("postgresql", "postgres") or not parts.hostname \
                    or not port_ok:
                raise ValueError("each entry must look like postgresql://ADMIN:PASSWORD@HOST:PORT/"
                                 "postgres")
        return value

    @field_validator("mail_relay")
    @classmethod
    def _check_relay(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("smtp", "smtps") or not parts.hostname):
            raise ValueError("must look like smtp://USER:PASSWORD@HOST:587 (or smtps://…)")
        return value

    @field_validator("mail_smtp_listen")
    @classmethod
    def _check_mail_listen(cls, value: str) -> str:
        return value if value == "off" else _host_port(value, "mail listen address")

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside ``home``."""
        return self.database_url or f"sqlite:///{self.home / 'roost.db'}"

    @property
    def effective_object_store(self) -> str:
        """The object store URL, defaulting to a directory inside ``home``."""
        return self.object_store or f"file://{self.home / 'objects'}"

    @property
    def listen_host_port(self) -> tuple[str, int]:
        """``listen`` split into host and port."""
        host, _, port = self.listen.rpartition(":")
        return host, int(port)

    @property
    def api_url(self) -> str:
        """The URL the local CLI uses to reach this server."""
        host, port = self.listen_host_port
        if host in {"0.0.0.0", "::", ""}:
            host = "127.0.0.1"
        return self.public_url or f"http://{host}:{port}"


FIELDS = set(Settings.model_fields)
LIST_FIELDS = {"oncall", "advisory_sources", "addon_kinds", "pg_server", "sandbox_paths",
               "public_ip"}


def _split(key: str, raw: str) -> list[str]:
    # Advisory sources are paths and URLs: a comma or a space separates them. On-call
    # entries may hold spaces, so only a comma separates those.
    parts = raw.replace(",", " ").split() if key == "advisory_sources" else raw.split(",")
    return [p.strip() for p in parts if p.strip()]


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("ROOST_") or name in CLIENT_ONLY:
            continue
        key = name[len("ROOST_") :].lower()
        if key.endswith("_file") and key[: -len("_file")] in FIELDS:
            key = key[: -len("_file")]
            try:
                raw = Path(raw).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read {raw}: {exc.strerror}") from exc
        if key not in FIELDS:
            raise ConfigError(
                f"unknown setting {name}; known settings are "
                + ", ".join("ROOST_" + f.upper() for f in sorted(FIELDS))
            )
        values[key] = _split(key, raw) if key in LIST_FIELDS else raw
    return values


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for key in data:
        if key not in FIELDS:
            raise ConfigError(f"{path}: unknown key {key!r}")
    return data


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment and ``$ROOST_HOME/roost.toml``; refuse bad ones."""
    env = dict(os.environ if environ is None else environ)
    from_env = _from_env(env)
    home = Path(from_env.get("home") or Path.home() / ".roost").expanduser()
    toml_path = home / "roost.toml"
    values: dict[str, Any] = _from_toml(toml_path) if toml_path.exists() else {}
    values.update(from_env)
    values["home"] = home
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        where = f" (from {toml_path})" if key in values and key not in from_env else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"bad value for ROOST_{key.upper()}{where}: {msg}") from exc
