"""`/health/`: is this worker able to serve? For load balancers, Docker and uptime monitors.

No authentication, never redirected to HTTPS (`SECURE_REDIRECT_EXEMPT`), GET and HEAD only. It checks
what every request needs: the database (`SELECT 1`) and the channel layer (a message sent to a
channel of this process and received back, within `CHANNEL_LAYER_TIMEOUT`; with Redis this is a
round trip through Redis). 200 when both answer, else 503, with the failing part's error text:

    {"status": "ok", "database": "ok", "channel_layer": "ok", "connected_stations": 12}
    {"status": "error", "database": "ok", "channel_layer": "TimeoutError: no answer within 2 s",
     "connected_stations": 12}

Error texts never carry credentials: the database password, DATABASE_URL, REDIS_URL and any
`user:password@` in a URL are masked.

`python -m csms_site.health [URL]` is the container's health probe: exit status 0 when the URL
(default http://127.0.0.1:8000/health/) answers 200. It sends a Host header Django accepts (the
first usable entry of ALLOWED_HOSTS), so it works whatever public name the server has.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import urllib.error
import urllib.request

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

CHANNEL_LAYER_TIMEOUT = 2.0
MAX_ERROR_CHARS = 300
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def connected_stations() -> int:
    from stations.models import Station

    return Station.objects.filter(connected=True).count()


async def _channel_layer_round_trip(timeout: float) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.check"})
    try:
        async with asyncio.timeout(timeout):
            message = await layer.receive(channel)
    except TimeoutError:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    if message.get("type") != "health.check":
        raise RuntimeError(f"unexpected message {message.get('type')!r}")


def check_channel_layer() -> None:
    async_to_sync(_channel_layer_round_trip)(CHANNEL_LAYER_TIMEOUT)


def _secrets() -> list[str]:
    found = [
        os.environ.get("DATABASE_URL", ""),
        os.environ.get("REDIS_URL", ""),
        getattr(settings, "REDIS_URL", ""),
        str(settings.DATABASES.get("default", {}).get("PASSWORD") or ""),
    ]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def describe(error: BaseException) -> str:
    """`Type: message`, one line, without credentials, at most MAX_ERROR_CHARS."""
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    for secret in _secrets():
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub("***@", text)
    text = " ".join(text.split())
    return text[:MAX_ERROR_CHARS]


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD"])
def health(request: HttpRequest) -> JsonResponse:
    body: dict[str, object] = {"status": "ok"}
    try:
        check_database()
        body["database"] = "ok"
    except Exception as error:
        body["database"] = describe(error)
    try:
        check_channel_layer()
        body["channel_layer"] = "ok"
    except Exception as error:
        body["channel_layer"] = describe(error)
    stations = None
    if body["database"] == "ok":
        try:
            stations = connected_stations()
        except Exception as error:
            body["database"] = describe(error)
    body["connected_stations"] = stations
    healthy = body["database"] == "ok" and body["channel_layer"] == "ok"
    if not healthy:
        body["status"] = "error"
    return JsonResponse(body, status=200 if healthy else 503)


# --- the container's probe ------------------------------------------------------------------------


def probe_host() -> str:
    """A Host header the server accepts: the first ALLOWED_HOSTS entry that names a host."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def probe(url: str = "http://127.0.0.1:8000/health/", timeout: float = 5.0) -> int:
    request = urllib.request.Request(url, headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status == 200:
                return 0
            print(f"unhealthy: HTTP {response.status}", file=sys.stderr)
    except urllib.error.HTTPError as error:
        print(f"unhealthy: HTTP {error.code} {error.read()[:500]!r}", file=sys.stderr)
    except (OSError, ValueError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(probe(sys.argv[1]) if len(sys.argv) > 1 else probe())
