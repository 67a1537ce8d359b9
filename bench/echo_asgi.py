"""The CSMS's own ASGI application plus `/echo/<id>`: the floor of the stack.

The echo consumer runs in the same server process, on the same Channels machinery and channel layer
as the station consumers, and answers every text frame with an empty CALLRESULT `[3,"<id>",{}]`
without parsing JSON, validating, routing or touching the database. What a Heartbeat costs the CSMS
above what this costs is the CSMS's own work.

    uvicorn bench.echo_asgi:application

It dispatches events like the station consumer (`LeanDispatch`: no hop to the database thread
before every event), so the floor is the floor of *that* consumer, not of Channels' default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from csms_site.asgi import application as csms_application
from stations.consumers import LeanDispatch

if TYPE_CHECKING:
    from channels.routing import _ExtendedURLPattern
    from channels.utils import _ChannelApplication


class EchoConsumer(LeanDispatch, AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return
        # '[2,"<id>","Heartbeat",{}]': the id is between the first two double quotes.
        parts = text_data.split('"', 2)
        message_id = parts[1] if len(parts) == 3 else "-1"
        await self.send(text_data='[3,"' + message_id + '",{}]')


def websocket_route(route: str, application: _ChannelApplication) -> _ExtendedURLPattern:
    """`re_path` for an ASGI application, as Channels' URLRouter takes them (its documented use).
    The stubs do not meet: django-stubs types `re_path`'s view as a Django view only, and
    types-channels wants its own pattern type (a callback that is an ASGI application)."""
    pattern = re_path(route, application)  # type: ignore[arg-type]  # an ASGI app, see above
    return cast("_ExtendedURLPattern", pattern)


application = ProtocolTypeRouter(
    {
        "http": csms_application,
        "websocket": URLRouter(
            [
                websocket_route(r"^echo/(?P<echo_id>[^/]+)/?$", EchoConsumer.as_asgi()),
                # Everything else: the project's own WebSocket routes, unchanged.
                websocket_route(r"", csms_application.application_mapping["websocket"]),
            ]
        ),
    }
)
