"""Issue 13.6: the emulator reads seed 004's environment (CS_PROTOCOL, CS_HOST, CS_PORT,
CONCURRENCY_LEVEL, LOG_PAYLOAD, LOG_LIFECYCLE); flags win; its lifecycle log shows ping and pong."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.environment import EnvironmentError_, read_environment
from stations.models import Station
from tests.servers import ROOT

SEED_ENV = (
    "CS_PROTOCOL",
    "CS_HOST",
    "CS_PORT",
    "CONCURRENCY_LEVEL",
    "LOG_PAYLOAD",
    "LOG_LIFECYCLE",
)


def test_without_variables_the_defaults_are_the_embedded_csms():
    env = read_environment({})
    assert env.url == "ws://127.0.0.1:8000/ocpp/"
    assert (env.count, env.log_payload, env.log_lifecycle) == (None, False, False)


def test_the_seeds_variables_build_the_url_and_the_fleet():
    env = read_environment(
        {
            "CS_PROTOCOL": "wss",
            "CS_HOST": "csms.example",
            "CS_PORT": "8443",
            "CONCURRENCY_LEVEL": "25",
            "LOG_PAYLOAD": "true",
            "LOG_LIFECYCLE": "1",
        }
    )
    assert env.url == "wss://csms.example:8443/ocpp/"
    assert (env.count, env.log_payload, env.log_lifecycle) == (25, True, True)
    assert read_environment({"CS_HOST": "::1"}).url == "ws://[::1]:8000/ocpp/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CS_PROTOCOL", "http"),
        ("CS_PORT", "eighty"),
        ("CS_PORT", "70000"),
        ("CONCURRENCY_LEVEL", "0"),
        ("LOG_PAYLOAD", "maybe"),
    ],
)
def test_a_bad_variable_is_named_in_the_error(name, value):
    with pytest.raises(EnvironmentError_, match=name):
        read_environment({name: value})


def emulate(server, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in server.env.items() if k not in SEED_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", "emulate", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_emulate_reaches_the_csms_named_by_the_environment(live_daphne):
    for i in (1, 2, 3):
        Station.objects.create(id=f"ENV_{i}", registration_status="Accepted")
    done = emulate(
        live_daphne,
        "--once",
        "--prefix",
        "ENV_",
        env={
            "CS_PROTOCOL": "ws",
            "CS_HOST": "127.0.0.1",
            "CS_PORT": str(live_daphne.port),
            "CONCURRENCY_LEVEL": "3",
            "LOG_PAYLOAD": "1",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for i in (1, 2, 3):
        assert f"ENV_{i}: BootNotification" in done.stdout
    assert '"BootNotification"' in done.stdout  # LOG_PAYLOAD printed the frames


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_flags_win_over_the_environment(live_daphne):
    Station.objects.create(id="ENV_FLAG", registration_status="Accepted")
    done = emulate(
        live_daphne,
        "ENV_FLAG",
        "--once",
        "--url",
        f"{live_daphne.url}/ocpp/",
        "--no-log-payload",
        env={"CS_PORT": "1", "CONCURRENCY_LEVEL": "40", "LOG_PAYLOAD": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # One station (the named one, not CONCURRENCY_LEVEL's 40), no frame lines.
    assert done.stdout.count("BootNotification") == 1


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_lifecycle_log_shows_ping_and_pong(live_daphne):
    Station.objects.create(id="ENV_PING", registration_status="Accepted")
    done = emulate(
        live_daphne,
        "ENV_PING",
        "--ping-interval",
        "0.1",
        "--duration",
        "3",
        env={"CS_PORT": str(live_daphne.port), "LOG_LIFECYCLE": "yes"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ENV_PING: ping sent" in done.stdout
    assert "ENV_PING: pong received" in done.stdout
