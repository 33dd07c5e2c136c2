"""Start-up refuses a missing or malformed variable and names it."""

import os
import secrets
import subprocess
import sys

import pytest

from config.embedded import BASE_DIR


def _start(settings_module: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
        (
            {"DATABASE_URL": "mysql://db/clarion"},
            "DATABASE_URL='mysql://db/clarion' is not a valid",
        ),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' is not a valid URL"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"CLARION_BASE_DOMAIN": "https://status.example"}, "CLARION_BASE_DOMAIN="),
        ({"DATABASE_CONN_MAX_AGE": "sixty"}, "DATABASE_CONN_MAX_AGE='sixty' is not a whole"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL='verbose' is not one of DEBUG, INFO"),
        ({"CLARION_PUBLIC_SCHEME": "htps"}, "CLARION_PUBLIC_SCHEME='htps' is not one of"),
        ({"CLARION_PUBLIC_PORT": "443x"}, "CLARION_PUBLIC_PORT='443x' is not a port number"),
        ({"CLARION_WEBHOOK_DISABLE_AFTER": "x"}, "CLARION_WEBHOOK_DISABLE_AFTER='x' is not"),
        ({"DATABASE_PREPARED_STATEMENTS": "maybe"}, "DATABASE_PREPARED_STATEMENTS='maybe'"),
    ],
)
def test_bad_configuration_stops_start_up_naming_the_variable(overrides, expected) -> None:
    result = _start("config.settings.test", **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert expected in result.stderr


def test_production_requires_a_secret_key() -> None:
    result = _start("config.settings.production", SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


PRODUCTION_MAIL = {
    "EMAIL_URL": "smtp+tls://clarion:secret@smtp.example.com:587",
    "DEFAULT_FROM_EMAIL": "Acme Status <status@acme.example>",
}


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("EMAIL_URL", "EMAIL_URL is not set: give the SMTP server"),
        ("DEFAULT_FROM_EMAIL", "DEFAULT_FROM_EMAIL is not set: the sender of notifications"),
    ],
)
def test_production_requires_a_mail_server_and_a_sender(missing, expected) -> None:
    """Without them every notification would be printed to the console and counted sent."""
    settings = {**PRODUCTION_MAIL, missing: None, "SECRET_KEY": secrets.token_urlsafe(50)}
    result = _start("config.settings.production", DEBUG=None, **settings)
    assert result.returncode != 0
    assert expected in result.stderr


def test_production_settings_pass_the_deployment_checks() -> None:
    env = {
        **os.environ,
        **PRODUCTION_MAIL,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    env.pop("DEBUG", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_client_ip_header_behind_a_proxy_is_read_from_the_environment() -> None:
    env = {**os.environ, "CLARION_CLIENT_IP_HEADER": "X-Real-IP"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CLARION_CLIENT_IP_HEADER)",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=60,
    )
    assert result.stdout.strip().splitlines()[-1] == "X-Real-IP", result.stderr
