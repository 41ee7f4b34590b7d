"""load_settings: ROOST_* variables over roost.toml, *_FILE secrets, refusals that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.settings import load_settings


def env(home: Path, **values: str) -> dict[str, str]:
    """An environment holding ROOST_HOME and ``values`` (keys without the ROOST_ prefix)."""
    return {"ROOST_HOME": str(home), "PATH": "/usr/bin", **{f"ROOST_{k}": v
                                                             for k, v in values.items()}}


def test_defaults_live_under_home(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path))
    assert settings.home == tmp_path
    assert settings.listen == "127.0.0.1:7700"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'roost.db'}"
    assert settings.effective_object_store == f"file://{tmp_path / 'objects'}"


def test_environment_variables_are_typed(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, LISTEN="0.0.0.0:9000", MAX_SLUG_MB="42",
                                 GRACE_SECONDS="2.5", LOG_LEVEL="DEBUG",
                                 ONCALL="+15551234567, ops@example.com"))
    assert settings.listen_host_port == ("0.0.0.0", 9000)
    assert settings.api_url == "http://127.0.0.1:9000"
    assert settings.max_slug_mb == 42
    assert settings.grace_seconds == 2.5
    assert settings.log_level == "debug"
    assert settings.oncall == ["+15551234567", "ops@example.com"]


def test_client_variables_are_not_server_settings(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, TOKEN="t0k3n", API_URL="http://example:1"))
    assert settings.public_url == ""


def test_roost_toml_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text(
        'base_domain = "apps.example"\nlisten = "127.0.0.1:7000"\n'
        'advisory_sources = ["https://mirror.example/osv.zip"]\n')
    settings = load_settings(env(tmp_path, LISTEN="127.0.0.1:7100"))
    assert settings.base_domain == "apps.example"
    assert settings.advisory_sources == ["https://mirror.example/osv.zip"]
    assert settings.listen == "127.0.0.1:7100"


def test_an_acme_ca_and_its_root_are_taken(tmp_path: Path) -> None:
    from roost.runtime.caddyproc import Issuer

    root = tmp_path / "root.pem"
    root.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = load_settings(env(tmp_path, ACME_CA="https://ca.internal:9000/acme/directory",
                                 ACME_CA_ROOT=str(root)))
    issuer = Issuer.from_settings(settings)
    assert issuer.caddy(tmp_path / "caddy") == {
        "module": "acme", "ca": "https://ca.internal:9000/acme/directory",
        "trusted_roots_pem_files": [str(tmp_path / "caddy" / "acme-ca-root.pem")]}
    (tmp_path / "caddy").mkdir()
    issuer.write_root(tmp_path / "caddy", None)
    assert (tmp_path / "caddy" / "acme-ca-root.pem").read_text() == root.read_text()
    assert Issuer.from_settings(load_settings(env(tmp_path, TLS_ISSUER="internal"))).caddy(
        tmp_path) == {"module": "internal"}


def test_unknown_variable_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting ROOST_LISTEN_PORT; known settings "
                                          r"are .*ROOST_LISTEN\b"):
        load_settings(env(tmp_path, LISTEN_PORT="7700"))


def test_unknown_toml_key_is_refused_with_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text('listen = "127.0.0.1:7000"\nlisen = "typo"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path))
    assert str(err.value) == f"{tmp_path / 'roost.toml'}: unknown key 'lisen'"


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text("listen = \n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'roost.toml'))}: .*line 1"):
        load_settings(env(tmp_path))


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("LISTEN", "7700", "must look like HOST:PORT"),
    ("MAX_SLUG_MB", "lots", "valid integer"),
    ("MAX_BUILD_SECONDS", "1", "greater than or equal to 10"),
    ("DATABASE_URL", "mysql://db/roost", "must start with sqlite:/// or postgresql://"),
    ("LOG_LEVEL", "loud", "must be one of debug, info, warning, error"),
    ("ACME_CA", "acme.example/directory", "must be the https:// URL of an ACME directory"),
    ("ACME_CA_ROOT", "/nonexistent/root.pem", "cannot read /nonexistent/root.pem"),
    ("ACME_CA_ROOT", "/etc/passwd", "/etc/passwd holds no PEM certificate"),
])
def test_bad_environment_value_is_refused_naming_the_key(tmp_path: Path, key: str, value: str,
                                                         reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path, **{key: value}))
    message = str(err.value)
    assert message.startswith(f"bad value for ROOST_{key}: ")
    assert reason in message and "\n" not in message


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("SMS_URL", "https://sms.example", "known: twilio://"),
    ("SMTP_URL", "twilio://a:b@+1555", "known: roost://…, smtp://…, smtps://…"),
    ("ONCALL", "someone", "someone"),
])
def test_bad_channel_or_oncall_refused_when_the_platform_opens(
        tmp_path: Path, key: str, value: str, reason: str) -> None:
    from roost.orchestration.platform import open_platform

    settings = load_settings(env(tmp_path / "home", **{key: value}))
    with pytest.raises(ConfigError) as err:
        open_platform(settings)
    message = str(err.value)
    assert message.startswith(f"bad value for ROOST_{key}: ")
    assert reason in message and "\n" not in message
    assert not settings.home.exists()  # refused before anything was created


def test_bad_toml_value_names_the_key_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "roost.toml").write_text('router_listen = "nowhere"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path))
    assert str(err.value).startswith(f"bad value for ROOST_ROUTER_LISTEN (from "
                                     f"{tmp_path / 'roost.toml'}): listen address must look like")


def test_secret_is_read_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-key\n")
    sms = tmp_path / "sms"
    sms.write_text("twilio://AC1:token@+15550001111")
    settings = load_settings(env(tmp_path, SECRET_KEY_FILE=str(secret), SMS_URL_FILE=str(sms)))
    assert settings.secret_key == "s3cr3t-key"
    assert settings.sms_url == "twilio://AC1:token@+15550001111"


def test_secret_file_value_is_checked_like_the_variable(tmp_path: Path) -> None:
    db = tmp_path / "db-url"
    db.write_text("mysql://db/roost")
    with pytest.raises(ConfigError, match="^bad value for ROOST_DATABASE_URL: must start with"):
        load_settings(env(tmp_path, DATABASE_URL_FILE=str(db)))


def test_missing_secret_file_is_one_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "secret"
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path, SECRET_KEY_FILE=str(missing)))
    assert str(err.value) == (f"ROOST_SECRET_KEY_FILE: cannot read {missing}: "
                              "No such file or directory")


def test_file_suffix_of_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting ROOST_PASSWORD_FILE"):
        load_settings(env(tmp_path, PASSWORD_FILE=str(tmp_path / "pw")))
