"""The production topology without Docker: ONE uvicorn process with two worker processes, as the
compose stack runs it (`--workers`), sharing a Redis channel layer and the test database.

The kernel hands each new connection to whichever worker accepts it first, so stations land on both
workers and so do the REST requests (urllib opens a connection per request). Every command must
reach its station whichever worker served the HTTP request."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from emulator.station import StationOptions
from stations.models import Command, Station
from tests.conftest import require_service
from tests.emulated import WatchedStation, shut_down
from tests.servers import UvicornWorkers

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

WORKERS = 2
STATIONS = 10
COMMANDS_PER_STATION = 4
TIMEOUT = 10.0
UVICORN_ARGS = [
    "--ws-max-size",
    "65536",
    # As in docker-compose.yml (20 s there): a worker does not wait for ever for a consumer whose
    # channel-layer receive swallowed its cancellation (seen now and then with channels-redis on
    # redis-py 8 after a station disconnects).
    "--timeout-graceful-shutdown",
    "2",
]


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    return request("GET", url, token)


def request(method: str, url: str, token: str | None, body: dict | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT + 10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def uvicorn_workers(transactional_db):
    require_service("Redis", "127.0.0.1", 6379)
    server = UvicornWorkers(WORKERS, {"REDIS_URL": "redis://127.0.0.1:6379/12"}, UVICORN_ARGS)
    server.start()
    try:
        server.wait_ready()  # every worker, the database and the channel layer answer
        yield server
    finally:
        server.stop()


@database_sync_to_async
def setup_data(identities: list[str]) -> str:
    Station.objects.bulk_create([Station(id=i, registration_status="Accepted") for i in identities])
    operator = get_user_model().objects.create_user("operator", is_staff=True)
    return Token.objects.create(user=operator).key


@database_sync_to_async
def live_sockets(identities: list[str]) -> dict[str, tuple[bool, str]]:
    rows = Station.objects.filter(id__in=identities).values_list("id", "connected", "channel_name")
    return {identity: (connected, channel) for identity, connected, channel in rows}


def worker_of(channel_name: str) -> str:
    """channels-redis names a process's channels `specific.<one prefix per process>!<random>`."""
    return channel_name.split("!", 1)[0]


class Fleet:
    def __init__(self, url: str):
        self.url = url
        self.stations: dict[str, WatchedStation] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.received: dict[str, list[str]] = {}

    async def connect(self, identity: str, protocol: str) -> None:
        station = WatchedStation(
            StationOptions(
                identity=identity,
                url=f"{self.url}/ocpp/",
                protocol=protocol,
                call_timeout=TIMEOUT,
                reconnect=False,
            ),
            rng=random.Random(identity),
        )
        station.received = self.received.setdefault(identity, [])  # one list across reconnects
        self.stations[identity] = station
        self.tasks[identity] = asyncio.create_task(station.run())
        await asyncio.wait_for(station.online.wait(), TIMEOUT)

    async def disconnect(self, identity: str) -> None:
        await shut_down(self.stations.pop(identity), self.tasks.pop(identity), 3)

    async def close(self) -> None:
        for identity in list(self.stations):
            await self.disconnect(identity)


async def test_commands_reach_stations_on_either_worker(uvicorn_workers):
    server = uvicorn_workers
    identities = [f"TOPO_{n}" for n in range(1, STATIONS + 1)]
    protocol = {identity: ("1.6", "2.0.1")[n % 2] for n, identity in enumerate(identities)}
    token = await setup_data(identities)
    fleet = Fleet(server.url)
    try:
        await asyncio.gather(*(fleet.connect(i, protocol[i]) for i in identities))

        # The stations must sit on both workers for the test to mean anything. The kernel decides;
        # should it have put them all on one, reconnect some until the other has its share.
        for attempt in range(3 * STATIONS):
            sockets = await live_sockets(identities)
            if len({worker_of(channel) for _, channel in sockets.values()}) == WORKERS:
                break
            moved = identities[attempt % STATIONS]
            await fleet.disconnect(moved)
            await fleet.connect(moved, protocol[moved])
        sockets = await live_sockets(identities)
        assert all(connected for connected, _ in sockets.values()), sockets
        workers = {worker_of(channel) for _, channel in sockets.values()}
        assert len(workers) == WORKERS, sockets

        code, body = await asyncio.to_thread(get, f"{server.http_url}/health/")
        assert (code, body["connected_stations"]) == (200, STATIONS), body

        async def commands(identity: str) -> list[tuple[int, Any]]:
            url = f"{server.http_url}/api/stations/{identity}/commands/ClearCache/"
            return [
                await asyncio.to_thread(request, "POST", url, token, {})
                for _ in range(COMMANDS_PER_STATION)
            ]

        answers = await asyncio.gather(*(commands(identity) for identity in identities))
        for identity, station_answers in zip(identities, answers, strict=True):
            assert station_answers == [(200, {"status": "Accepted"})] * COMMANDS_PER_STATION, (
                identity
            )
            assert fleet.received[identity].count("ClearCache") == COMMANDS_PER_STATION, identity
    finally:
        await fleet.close()

    answered = await Command.objects.filter(action="ClearCache", outcome="answered").acount()
    assert answered == STATIONS * COMMANDS_PER_STATION
    assert "Exception inside application" not in server.output()
    assert "Traceback" not in server.output()
