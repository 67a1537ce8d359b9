from __future__ import annotations

import os
import socket

import pytest
from channels.db import database_sync_to_async
from django.core.management.base import CommandError

from stations import recorders, throttle
from stations.liveness import silence_watch
from stations.models import RegistrationStatus, Station
from stations.passwords import make_station_password
from tests.ocpp_client import OcppTestClient
from tests.servers import AsgiServer

VERSIONS = ["1.6", "2.0.1"]


def service_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is missing, unless CI says it must be there."""
    if service_answers(host, port):
        return
    if os.environ.get("CSMS_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} does not answer on {host}:{port}")
    pytest.skip(f"{name} does not answer on {host}:{port}")


@pytest.fixture(scope="session", autouse=True)
def end_stray_database_sessions(django_db_setup, django_db_blocker):
    """Django's async ORM leaves connections open in executor threads; PostgreSQL cannot drop the
    test database while they live, so end them before pytest-django drops it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fresh_recorders():
    """The recorders buffer per process; each test starts with empty buffers."""
    recorders.presence.reset()
    recorders.message_log.reset()
    throttle.reset()
    silence_watch.reset()
    yield
    recorders.presence.reset()
    recorders.message_log.reset()
    silence_watch.reset()


@pytest.fixture(params=VERSIONS)
def version(request) -> str:
    return request.param


@pytest.fixture
def make_station(transactional_db):
    """Create a registered station; `booted=True` makes it Accepted at an earlier boot."""

    async def make(
        identity: str = "CP_1",
        *,
        password: str | None = None,
        registration: str = RegistrationStatus.ACCEPTED,
        booted: bool = False,
    ) -> Station:
        return await Station.objects.acreate(
            id=identity,
            password_hash=make_station_password(password) if password else "",
            registration_status=registration,
            boot_status=RegistrationStatus.ACCEPTED if booted else "",
        )

    return make


@pytest.fixture
async def booted(make_station, version):
    """Station CP_1, connected with `version` and accepted at boot."""
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", version)
    await client.boot()
    yield client
    await client.close()


@pytest.fixture
def db_run():
    """Run an ORM callable from an async test."""

    async def run(fn, *args, **kwargs):
        return await database_sync_to_async(fn)(*args, **kwargs)

    return run


@pytest.fixture(scope="session", autouse=True)
def flush_survives_live_servers():
    """Tests run real server processes against the test database (session- and module-wide ones
    among them). They may still be writing when a transactional test's database is flushed: a
    closed socket's row being released, a batch of the message log. PostgreSQL then picks the
    TRUNCATE or that write as a deadlock victim; a flush that lost is run again (it then waits
    for the write's lock like any statement, and the write sees an empty table)."""
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, **options):
        for attempt in range(5):
            try:
                return original(self, **options)
            except CommandError as error:
                if attempt == 4 or "deadlock detected" not in str(error.__cause__):
                    raise

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush.Command, "handle", handle)
        yield


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = AsgiServer("daphne").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_uvicorn(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = AsgiServer("uvicorn").start()
    yield server
    server.stop()
