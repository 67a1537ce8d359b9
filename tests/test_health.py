"""`/health/`: 200 when the database and the channel layer answer, 503 naming the part that does not,
without credentials; and the container's probe, `python -m csms_site.health`."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from django.db import OperationalError
from django.test import override_settings

from csms_site import health
from stations.models import Station
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.django_db


def test_healthy(client):
    Station.objects.create(id="CP_ON", connected=True)
    Station.objects.create(id="CP_OFF")
    response = client.get("/health/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "channel_layer": "ok",
        "connected_stations": 1,
    }


def test_no_authentication_and_no_slash_needed(client):
    assert client.get("/health/").status_code == 200
    assert client.get("/health", follow=True).status_code == 200


def test_get_and_head_only(client):
    assert client.head("/health/").status_code == 200
    for method in (client.post, client.put, client.patch, client.delete):
        assert method("/health/").status_code == 405


@override_settings(SECURE_SSL_REDIRECT=True)
def test_never_redirected_to_https(client):
    assert client.get("/health/").status_code == 200
    assert client.get("/api/").status_code == 301


def test_database_down_is_503(client, monkeypatch):
    def broken():
        raise OperationalError('connection to server at "db" (10.0.0.5), port 5432 failed')

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "database": 'OperationalError: connection to server at "db" (10.0.0.5), port 5432 failed',
        "channel_layer": "ok",
        "connected_stations": None,
    }


class SilentLayer:
    """A channel layer that accepts messages and never delivers them."""

    async def new_channel(self):
        return "specific.test!1"

    async def send(self, channel, message):
        pass

    async def receive(self, channel):
        await asyncio.Event().wait()


def test_channel_layer_timeout_is_503(client, monkeypatch):
    monkeypatch.setattr(health, "get_channel_layer", SilentLayer)
    monkeypatch.setattr(health, "CHANNEL_LAYER_TIMEOUT", 0.1)
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["channel_layer"] == "TimeoutError: no answer within 0.1 s"
    assert body["connected_stations"] == 0


def test_error_texts_carry_no_credentials(client, monkeypatch):
    database_url = "postgres://csms:db-Secret-42@db:5432/csms"
    redis_url = "redis://:redis-Secret-42@redis:6379/0"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    def broken_database():
        raise OperationalError(f"cannot connect to {database_url}\nor postgres://u:other-pw@h/x")

    def broken_layer():
        raise ConnectionError(f"Error connecting to {redis_url}: refused")

    monkeypatch.setattr(health, "check_database", broken_database)
    monkeypatch.setattr(health, "check_channel_layer", broken_layer)
    response = client.get("/health/")
    assert response.status_code == 503
    text = response.content.decode()
    for secret in ("db-Secret-42", "redis-Secret-42", "other-pw", database_url, redis_url):
        assert secret not in text
    body = response.json()
    assert body["database"] == "OperationalError: cannot connect to *** or postgres://***@h/x"
    assert body["channel_layer"] == "ConnectionError: Error connecting to ***: refused"


def test_probe_sends_an_allowed_host(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " *, .csms.example.com,localhost")
    assert health.probe_host() == "csms.example.com"
    monkeypatch.setenv("ALLOWED_HOSTS", "*")
    assert health.probe_host() == "localhost"


def run_probe(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "csms_site.health", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.live
def test_the_container_probe_against_a_real_server(live_uvicorn):
    assert run_probe(f"{live_uvicorn.http_url}/health/").returncode == 0
    failed = run_probe(f"http://127.0.0.1:{free_port()}/health/")
    assert failed.returncode == 1 and "unhealthy" in failed.stderr
    not_found = run_probe(f"{live_uvicorn.http_url}/no-such-page/")
    assert not_found.returncode == 1 and "HTTP 404" in not_found.stderr
