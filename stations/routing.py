"""The WebSocket paths stations connect to, and the answer to every other one.

OCPP 2.0.1 Part 4 §3.1.1 (and the 1.6 JSON specification): the connection URL is the operator's
choice, ending in `/<identity>`. Ours is `/ocpp/<identity>`, or `/ocpp/<1.6|2.0.1>/<identity>` to pin
the version. Any other WebSocket path (`/CP_1` without the prefix, `/ocpp/a/b`, `/`) is refused
before the upgrade with 404 (daphne, which cannot send a status of its own: 403), never a 500.

We do not also serve stations at `/<identity>`: the production proxy (deploy/nginx.conf) forwards
only `/ocpp/` and `/ws/` to the WebSocket workers, so a charger configured that way would work
under `make run` and fail behind the proxy. One URL everywhere is friendlier than that; the 404's
body and the log line name the right one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.urls.resolvers import RegexPattern, URLPattern

from stations import handshake
from stations.consumers import StationConsumer

logger = logging.getLogger("csms.connections")


def websocket_route(route: str, application: Callable[..., Awaitable[None]]) -> URLPattern:
    """`re_path(route, application)` for an ASGI application, as Channels' URLRouter takes them,
    built as re_path builds it: django-stubs types re_path's view as a Django view only."""
    return URLPattern(RegexPattern(route, is_endpoint=True), application)


websocket_urlpatterns = [
    websocket_route(
        r"^ocpp/(?P<version>1\.6|2\.0\.1)/(?P<station_id>[^/]+)/?$", StationConsumer.as_asgi()
    ),
    websocket_route(r"^ocpp/(?P<station_id>[^/]+)/?$", StationConsumer.as_asgi()),
]

NOT_FOUND = "No OCPP endpoint here: connect to /ocpp/<identity> or /ocpp/<1.6|2.0.1>/<identity>"


async def unrouted(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Any WebSocket path the CSMS does not serve: 404 before the upgrade."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    logger.warning(
        "Refused a WebSocket for %r from %s: no such endpoint (stations connect to /ocpp/<identity>)",
        str(scope.get("path", ""))[:200],
        handshake.client_address(scope),
    )
    await handshake.refuse(scope, send, 404, NOT_FOUND)


# Last in the router's list: whatever no route above took.
unrouted_pattern = websocket_route(r"", unrouted)
