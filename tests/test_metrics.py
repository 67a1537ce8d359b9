"""`/metrics`: Prometheus exposition of what the stations do and what the database holds.

Scraped from real servers (uvicorn processes on the test database, one worker and two) with real
WebSocket stations, parsed with prometheus_client's own parser; plus the token, the cache, the
failure paths and the Grafana dashboard against the documented names."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token
from websockets.exceptions import InvalidStatus

from csms_site import metrics
from stations.models import Connector, Station, Transaction
from stations.passwords import make_station_password
from tests.ocpp_client import LiveClient, OcppTestClient, boot_payload, status_payload
from tests.servers import ROOT, AsgiServer, UvicornWorkers

TOKEN = "metrics-test-token-0123456789abcdef"
PASSWORD = "metrics-station-key-0001"
DOCS = ROOT / "docs" / "metrics.md"
GRAFANA = ROOT / "deploy" / "grafana"


# --- helpers ---------------------------------------------------------------------------------------


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}}."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The sample's value, 0 when absent; labels not named are summed over."""
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if wanted <= set(key))


def scrape_url(base: str, token: str | None = TOKEN) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{base}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


async def scrape(base: str, token: str | None = TOKEN) -> dict:
    status, body, _ = await asyncio.to_thread(scrape_url, base, token)
    assert status == 200, body
    return parse(body)


@database_sync_to_async
def register(identity: str, password: str | None = PASSWORD) -> None:
    Station.objects.create(
        id=identity,
        registration_status="Accepted",
        password_hash=make_station_password(password) if password else "",
    )


@database_sync_to_async
def operator_token() -> str:
    user = get_user_model().objects.create_user("metrics-operator", is_staff=True)
    return Token.objects.create(user=user).key


def post_command(base: str, token: str, station: str, action: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/stations/{station}/commands/{action}/",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# --- access ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="")
def test_without_a_token_there_is_no_metrics_endpoint(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics/").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_a_scrape_needs_the_bearer_token(client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Token {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"csms_" not in response.content
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"]
    assert "csms_login_refusals_total" in parse(response.content.decode())
    assert client.get("/metrics/", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert client.head("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN, SECURE_SSL_REDIRECT=True)
def test_never_redirected_to_https(client):
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_openmetrics_is_served_to_who_asks(client):
    response = client.get(
        "/metrics",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/openmetrics-text; version=1.0.0",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


# --- the database gauges ----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN, METRICS_CACHE_SECONDS=60)
def test_database_gauges_come_from_a_few_cached_queries(client):
    metrics.database.clear()
    station = Station.objects.create(id="CP_DB", connected=True, registration_status="Pending")
    Station.objects.create(id="CP_OFF")
    Connector.objects.create(station=station, evse_id=1, status="Charging")
    Connector.objects.create(station=station, evse_id=2, status="Available")
    Transaction.objects.create(station=station, evse_id=1, started_at=timezone.now())
    Transaction.objects.create(
        station=station, evse_id=2, started_at=timezone.now(), flagged_at=timezone.now()
    )
    Transaction.objects.create(
        station=station, evse_id=1, started_at=timezone.now(), is_active=False
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with CaptureQueriesContext(connection) as queries:
        samples = parse(client.get("/metrics", headers=auth).content.decode())
    assert len(queries) == 3, [q["sql"] for q in queries]
    assert value(samples, "csms_metrics_database_ok") == 1
    assert value(samples, "csms_stations", connected="true", registration="Pending") == 1
    assert value(samples, "csms_stations", connected="false", registration="Accepted") == 1
    assert value(samples, "csms_stations", connected="true", registration="Accepted") == 0
    assert value(samples, "csms_connectors", status="Charging", station_connected="true") == 1
    assert value(samples, "csms_connectors", status="Available", station_connected="true") == 1
    assert value(samples, "csms_connectors", status="Faulted") == 0  # present, at 0
    assert value(samples, "csms_transactions_open") == 2
    assert value(samples, "csms_transactions_flagged") == 1

    # Within METRICS_CACHE_SECONDS a scrape storm costs the database nothing.
    Station.objects.create(id="CP_NEW", connected=True)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            again = parse(client.get("/metrics", headers=auth).content.decode())
    assert len(queries) == 0
    assert value(again, "csms_stations") == 2
    with override_settings(METRICS_CACHE_SECONDS=0):
        fresh = parse(client.get("/metrics", headers=auth).content.decode())
    assert value(fresh, "csms_stations") == 3


class CountingLock:
    """A lock that counts the threads that have asked for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self.asked = 0

    def __enter__(self) -> None:
        with self._changed:
            self.asked += 1
            self._changed.notify_all()
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def wait_asked(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.asked >= count, timeout)


def test_concurrent_scrapes_query_once(monkeypatch):
    metrics.database.clear()
    calls: list[int] = []
    querying, release = threading.Event(), threading.Event()

    def slow_query() -> metrics.Snapshot:
        calls.append(1)
        querying.set()
        release.wait(5)
        return metrics.Snapshot(ok=True)

    lock = CountingLock()
    monkeypatch.setattr(metrics.database, "_lock", lock)
    monkeypatch.setattr(metrics, "query_database", slow_query)
    threads = [threading.Thread(target=metrics.database.snapshot) for _ in range(8)]
    threads[0].start()
    assert querying.wait(5)
    for thread in threads[1:]:
        thread.start()
    assert lock.wait_asked(len(threads), 5)  # the other seven scrapes came while it queried
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1]
    metrics.database.clear()


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_a_database_failure_is_not_a_500(client, monkeypatch):
    metrics.database.clear()

    def down() -> metrics.Snapshot:
        raise OperationalError("connection refused")

    monkeypatch.setattr(metrics, "query_database", down)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    samples = parse(response.content.decode())
    assert value(samples, "csms_metrics_database_ok") == 0
    assert "csms_stations" not in samples and "csms_transactions_open" not in samples
    assert "csms_login_refusals_total" in samples  # the process's own metrics are still there
    metrics.database.clear()


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
def test_any_other_failure_is_a_503(client, monkeypatch):
    def broken() -> None:
        raise RuntimeError("corrupt file")

    monkeypatch.setattr(metrics, "registry", broken)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert b"corrupt" not in response.content


# --- the hot-path hooks ------------------------------------------------------------------------------


class FakeEndpoint:
    version = "2.0.1"


class FakeConsumer:
    rpc = FakeEndpoint()


def test_label_values_stay_a_small_set_whatever_a_station_sends():
    before = parse(metrics.exposition()[0].decode())
    consumer = FakeConsumer()
    metrics.observe_frame(consumer, "in", '[2,"a","Evil<1>",{}]', 2, "a", "Evil<1>")
    metrics.observe_frame(consumer, "out", '[4,"a","NotImplemented","",{}]', 4, "a", "Evil<1>")
    metrics.observe_frame(consumer, "out", "[4,garbage", 4, "b", "")

    class Result:
        outcome, error_code, duration_ms = "call_error", "MadeUp" * 10, 12.0

    metrics.command_finished("NoSuchAction", "somewhere", Result())
    metrics.login_refused(418, "teapot")
    after = parse(metrics.exposition()[0].decode())

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    name = "csms_ocpp_messages_total"
    assert delta(name, action="unknown", version="2.0.1", outcome="NotImplemented") == 1
    assert delta(name, action="unknown", outcome="other") == 1
    assert delta("csms_ocpp_message_duration_seconds_count", action="unknown") == 1
    assert delta("csms_ocpp_calls_total", action="unknown", outcome="other", source="other") == 1
    assert delta("csms_login_refusals_total", reason="forbidden") == 1
    labels = {v for samples in after.values() for key in samples for _, v in key}
    assert not any("Evil" in v or "MadeUp" in v or "somewhere" in v for v in labels)


def test_database_thread_queue_depth_counts_the_calls_waiting():
    executor = SyncToAsync.single_thread_executor
    running, release = threading.Event(), threading.Event()

    def block() -> None:
        running.set()
        release.wait(10)

    first = executor.submit(block)
    try:
        assert running.wait(5)
        waiting = [executor.submit(lambda: None) for _ in range(3)]
        assert metrics.db_queue_depth() == 3
        samples = parse(metrics.exposition()[0].decode())
        assert value(samples, "csms_db_thread_queue_depth") == 3
    finally:
        release.set()
    first.result(5)
    for future in waiting:
        future.result(5)
    assert metrics.db_queue_depth() == 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_messages_are_counted_per_action_version_and_outcome(make_station, version):
    """In this process: the in-process consumers count into the metrics this process serves."""
    before = parse(metrics.exposition()[0].decode())
    await make_station("CP_COUNT")
    client, connected, _ = await OcppTestClient.open("CP_COUNT", version)
    assert connected
    await client.boot()
    await client.heartbeat()
    await client.heartbeat()
    error = await client.call("Heartbeat", {"unexpected": 1})  # additionalProperties
    assert error[0] == 4
    code = error[2]
    await client.close()
    after = parse(metrics.exposition()[0].decode())

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    messages = "csms_ocpp_messages_total"
    assert delta(messages, action="Heartbeat", version=version, outcome="answered") == 2
    assert delta(messages, action="Heartbeat", version=version, outcome=code) == 1
    assert delta(messages, action="BootNotification", version=version, outcome="answered") == 1
    durations = "csms_ocpp_message_duration_seconds"
    assert delta(f"{durations}_count", action="Heartbeat", version=version) == 3
    assert delta(f"{durations}_sum", action="Heartbeat", version=version) > 0
    assert delta(f"{durations}_bucket", action="Heartbeat", version=version, le="+Inf") == 3


# --- a real server ---------------------------------------------------------------------------------


@pytest.fixture
def live_server_with_metrics(transactional_db):
    server = AsgiServer("uvicorn", {"METRICS_TOKEN": TOKEN, "METRICS_CACHE_SECONDS": "0"})
    server.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
async def test_a_live_server_shows_what_its_stations_do(live_server_with_metrics):
    server = live_server_with_metrics
    base_ws, base = server.url, server.http_url
    await register("CP_LIVE")
    token = await operator_token()

    # Without the token: nothing to read.
    assert (await asyncio.to_thread(scrape_url, base, None))[0] == 401
    assert (await asyncio.to_thread(scrape_url, base, "not-the-token"))[0] == 401
    before = await scrape(base)

    station = await LiveClient.open(base_ws, "CP_LIVE", "2.0.1", password=PASSWORD)
    try:
        assert (await station.result("BootNotification", boot_payload("2.0.1")))["status"]
        await station.result("Heartbeat", {})
        await station.result("StatusNotification", status_payload("2.0.1", 1, "Occupied"))
        error = await station.call("BootNotification", {"reason": "PowerUp"})  # no station
        assert error[0] == 4 and error[2] == "OccurrenceConstraintViolation"

        # A command through the REST API, answered by the station.
        command = asyncio.create_task(
            asyncio.to_thread(post_command, base, token, "CP_LIVE", "ClearCache")
        )
        assert (await station.answer())[2] == "ClearCache"
        assert await command == 200

        # A refused login: the wrong password.
        with pytest.raises(InvalidStatus) as refused:
            await LiveClient.open(base_ws, "CP_LIVE", "2.0.1", password="not-the-password-01")
        assert refused.value.response.status_code == 401

        after = await scrape(base)
    finally:
        await station.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    messages = "csms_ocpp_messages_total"
    assert delta(messages, action="Heartbeat", version="2.0.1", outcome="answered") == 1
    assert delta(messages, action="BootNotification", version="2.0.1", outcome="answered") == 1
    assert (
        delta(
            messages,
            action="BootNotification",
            version="2.0.1",
            outcome="OccurrenceConstraintViolation",
        )
        == 1
    )
    assert delta(messages, action="StatusNotification", outcome="answered") == 1
    assert delta("csms_ocpp_message_duration_seconds_count", action="Heartbeat") == 1
    assert (
        delta("csms_ocpp_calls_total", action="ClearCache", outcome="answered", source="api") == 1
    )
    assert delta("csms_ocpp_call_duration_seconds_count", action="ClearCache") == 1
    assert delta("csms_login_refusals_total", reason="invalid_credentials") == 1
    assert delta("csms_login_refusals_total", reason="throttled") == 0
    assert value(after, "csms_connectors", status="Occupied", station_connected="true") == 1
    assert value(after, "csms_stations", connected="true", registration="Accepted") == 1
    assert value(after, "csms_metrics_database_ok") == 1
    assert "csms_db_thread_queue_depth" in after
    assert value(after, "csms_transactions_open") == 0


def heartbeats_per_process(directory: Path) -> dict[int, float]:
    """{pid: Heartbeats it answered}, read from each worker's own file."""
    found: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if (
                    sample.name == "csms_ocpp_messages_total"
                    and sample.labels["action"] == "Heartbeat"
                ):
                    found[pid] = found.get(pid, 0) + sample.value
    return found


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
async def test_every_worker_answers_for_all_of_them(tmp_path):
    """uvicorn --workers 2 with PROMETHEUS_MULTIPROC_DIR: whichever worker a scrape lands on, it
    reports every worker's counts, and a worker that dies takes none of them away."""
    directory = tmp_path / "metrics"
    server = UvicornWorkers(
        2,
        {
            "METRICS_TOKEN": TOKEN,
            "METRICS_CACHE_SECONDS": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
        },
    )
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(server.wait_ready)
        # One connection per station: the kernel spreads them over the workers. Go on until both
        # workers have answered Heartbeats (at least 6 stations, at most 30).
        stations = 0
        while stations < 6 or len(heartbeats_per_process(directory)) < 2:
            assert stations < 30, heartbeats_per_process(directory)
            stations += 1
            identity = f"CP_MP{stations}"
            await register(identity, password=None)
            station = await LiveClient.open(server.url, identity, "1.6")
            await station.result("BootNotification", boot_payload("1.6"))
            await station.result("Heartbeat", {})
            await station.close()
        for _ in range(2):
            with pytest.raises(InvalidStatus):
                await LiveClient.open(server.url, "CP_UNKNOWN", "1.6")

        def counts(samples: dict) -> tuple[float, float]:
            return (
                value(samples, "csms_ocpp_messages_total", action="Heartbeat", outcome="answered"),
                value(samples, "csms_login_refusals_total", reason="unknown_station"),
            )

        for _ in range(8):  # a new connection per scrape, so either worker answers
            assert counts(await scrape(server.http_url)) == (stations, 2)

        # A worker killed: its counts stay in the sum, its queue gauge goes, uvicorn starts another.
        per_process = heartbeats_per_process(directory)
        victim = next(pid for pid in server.worker_pids() if per_process.get(pid))
        assert (directory / f"gauge_livesum_{victim}.db").exists()
        os.kill(victim, signal.SIGKILL)
        await asyncio.to_thread(server.wait_replaced, victim)
        await asyncio.to_thread(server.wait_healthy)
        for _ in range(4):
            assert counts(await scrape(server.http_url)) == (stations, 2)
        assert not (directory / f"gauge_livesum_{victim}.db").exists()
    finally:
        await asyncio.to_thread(server.stop)


# --- documentation and the dashboard -------------------------------------------------------------------


def _families(exposition: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(exposition)}


def _base_name(sample: str) -> str:
    return re.sub(r"_(total|bucket|sum|count)$", "", sample)


@pytest.mark.django_db
def test_every_metric_is_documented_and_the_dashboard_uses_real_ones():
    metrics.database.clear()
    exposed = _families(metrics.exposition()[0].decode())
    exposed.add("csms_db_thread_queue_depth")
    docs = DOCS.read_text()
    for name in exposed:
        assert f"`{name}" in docs, f"{name} is not in docs/metrics.md"

    dashboard = json.loads((GRAFANA / "dashboards" / "csms.json").read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert len(expressions) >= 10
    used = {_base_name(n) for expr in expressions for n in re.findall(r"\bcsms_[a-z_]+", expr)}
    assert used and used <= exposed, used - exposed
    for name in ("csms_stations", "csms_connectors", "csms_ocpp_messages", "csms_login_refusals"):
        assert name in used
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_prometheus_example_scrapes_with_a_bearer_token():
    config = yaml.safe_load((GRAFANA / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "csms"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    for provisioning in (GRAFANA / "provisioning").rglob("*.yml"):
        assert yaml.safe_load(provisioning.read_text())["apiVersion"] == 1


def test_docs_name_the_settings():
    docs = DOCS.read_text()
    for setting in ("METRICS_TOKEN", "METRICS_CACHE_SECONDS", "PROMETHEUS_MULTIPROC_DIR"):
        assert setting in docs
    assert Path(ROOT / "docs" / "architecture.md").read_text().count("metrics.md") >= 1
