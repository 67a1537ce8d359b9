"""PostgreSQL under REST load: a worker's connections stay within its pool.

Under ASGI every HTTP request runs in a thread of its own. With persistent per-thread connections
each request left one open behind it, and a burst of API calls ran PostgreSQL out of connections
("too many clients already", 500s). The production settings pool connections per worker instead.
"""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from stations.models import Station
from tests.servers import AsgiServer

REQUESTS = 300
CONCURRENCY = 60
POOL = 10

pytestmark = pytest.mark.django_db(transaction=True)


def backends(database: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database])
        return cursor.fetchone()[0]


def test_a_burst_of_api_requests_stays_within_the_pool():
    if connection.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's (SQLite keeps one connection per thread)")
    user = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    key = Token.objects.create(user=user).key
    Station.objects.bulk_create(Station(id=f"POOL_{i}") for i in range(20))
    database = connection.settings_dict["NAME"]
    # The production settings (the test settings close connections after every use).
    env = {"DJANGO_SETTINGS_MODULE": "csms_site.settings", "DB_POOL_MAX_SIZE": str(POOL)}
    server = AsgiServer("uvicorn", env=env).start()
    try:

        def get(_: int) -> int:
            request = urllib.request.Request(
                f"{server.http_url}/api/stations/", headers={"Authorization": f"Token {key}"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status

        with ThreadPoolExecutor(CONCURRENCY) as executor:
            statuses = list(executor.map(get, range(REQUESTS)))
        # this process's own connection, plus at most the server's pool
        open_after = backends(database)
    finally:
        server.stop()
    assert statuses == [200] * REQUESTS
    assert open_after <= 1 + POOL, open_after
    assert "too many clients" not in server.output()
