"""`manage.py check --deploy` is clean with production settings and flags unsafe OCPP settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from tests.servers import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "csms_site.settings",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DEBUG": "0",
    "ALLOWED_HOSTS": "csms.example.com",
    "OCPP_AUTO_REGISTER": "0",
    "OCPP_ACCEPT_UNKNOWN_ID_TOKENS": "0",
    "OCPP_REQUIRE_PASSWORD": "1",
    "SECURE_SSL_REDIRECT": "1",
    "CSMS_PUBLIC_URL": "https://csms.example.com",
}


def check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCPP_", "SECURE_"))}
    env.update(PRODUCTION, **overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_checks():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_conveniences_are_flagged_in_production():
    result = check_deploy(OCPP_AUTO_REGISTER="1", OCPP_REQUIRE_PASSWORD="0")
    assert result.returncode != 0
    assert "stations.W001" in result.stderr and "stations.W003" in result.stderr


def test_a_public_url_stations_cannot_reach_is_flagged():
    result = check_deploy(CSMS_PUBLIC_URL="http://127.0.0.1:8000")
    assert result.returncode != 0 and "stations.W004" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = check_deploy(SECRET_KEY="")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
