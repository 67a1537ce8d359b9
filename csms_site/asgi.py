"""ASGI entry point: HTTP goes to Django; WebSockets under /ocpp/ to the station consumers and
/ws/dashboard/ to the operators' live feed; the lifespan starts and stops the background jobs
(csms_site/lifespan.py, stations/background.py).

Chargers send no Origin header, so the station routes have no origin check. Browsers do, so the
dashboard's socket checks it against ALLOWED_HOSTS and authenticates with the session cookie. Any
other WebSocket path is refused with 404 (stations/routing.py).
"""

import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_site.settings")

from csms_site.http_handler import get_asgi_application
from csms_site.tracing import configure_tracing

# Before Django builds its middleware: the Django instrumentation adds its own.
configure_tracing("csms")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

# Fail at start, not at the first login: Django raises ImproperlyConfigured for an empty key.
settings.SECRET_KEY  # noqa: B018

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from csms_site.file_routes import FileRoutes  # noqa: E402
from csms_site.lifespan import LifespanApp  # noqa: E402
from dashboard.consumers import DashboardConsumer  # noqa: E402
from stations.routing import unrouted_pattern, websocket_urlpatterns  # noqa: E402


def make_daphne_close_like_uvicorn() -> None:
    """Under daphne (`manage.py runserver`), WebSockets close with the code and reason they are
    closed with, as under uvicorn. No-op outside daphne. Two things in daphne stand in the way:

    - autobahn, its WebSocket engine, drops the TCP connection when it gives up on a socket
      (`failByDrop`): a frame above DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE ended in 1006, no close frame,
      no reason. Turned off, autobahn sends its close frame (1009 and why). For a frame too big it
      then stops reading the socket: the rest of the frame is neither buffered nor even read (that
      would cost the event loop about 10 ms per megabyte), and autobahn's close handshake timeout
      (1 s) drops the connection if the station does not answer the close.
    - daphne closes an accepted socket through autobahn's `sendClose`, which refuses any code but
      1000 and 3000-4999 (our 1009 for a frame too big became an exception, then 1011) and daphne
      drops the reason. Our close goes out as the close frame it is, code and reason.

    And a handshake daphne cannot read (a path or a Sec-WebSocket-Protocol offer that is not
    ASCII: `UnicodeDecodeError` in its `onConnect`) is refused with 400, not answered 500.

    daphne builds its factory when it starts serving, after it has loaded this module."""
    server: Any = sys.modules.get("daphne.server")
    if server is None or getattr(server, "csms_closes_like_uvicorn", False):
        return
    from autobahn.util import encode_truncate
    from autobahn.websocket.types import ConnectionDeny
    from daphne.ws_protocol import WebSocketProtocol

    factory_init = server.WebSocketFactory.__init__

    def __init__(self, *args, **kwargs):
        factory_init(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    handle_reply = WebSocketProtocol.handle_reply

    def close_with_code_and_reason(self, message):
        if message.get("type") != "websocket.close" or self.state == self.STATE_CONNECTING:
            return handle_reply(self, message)
        code = message.get("code") or 1000
        reason = message.get("reason") or ""
        self.sendCloseFrame(code=code, reasonUtf8=encode_truncate(reason, 123), isReply=False)
        return None

    on_connect = WebSocketProtocol.onConnect

    def refuse_what_daphne_cannot_read(self, request):
        try:
            request.path.encode("ascii")
            for name, value in request.headers.items():
                name.encode("ascii")
                if name.lower() == "sec-websocket-protocol":
                    value.encode("ascii")
        except UnicodeError:
            raise ConnectionDeny(400, "Path and Sec-WebSocket-Protocol must be ASCII") from None
        return on_connect(self, request)

    def close_and_stop_reading(self, size, limit, reason):
        self._fail_connection(WebSocketProtocol.CLOSE_STATUS_CODE_MESSAGE_TOO_BIG, reason)
        self.transport.pauseProducing()

    server.WebSocketFactory.__init__ = __init__
    WebSocketProtocol.handle_reply = close_with_code_and_reason
    WebSocketProtocol._max_message_size_exceeded = close_and_stop_reading
    WebSocketProtocol.onConnect = refuse_what_daphne_cannot_read
    server.csms_closes_like_uvicorn = True


make_daphne_close_like_uvicorn()

dashboard_socket = AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))
# Django URL patterns around ASGI applications, as Channels' URLRouter takes them (its documented
# use); types-channels wants a pattern type of its own (see bench/echo_asgi.py).
routes: list[Any] = [
    re_path(r"^ws/dashboard/$", dashboard_socket),
    *websocket_urlpatterns,
    unrouted_pattern,
]

application = LifespanApp(
    ProtocolTypeRouter(
        {
            # Stations' file transfers first (they bypass Django's whole-body read), then Django.
            "http": FileRoutes(django_asgi_app),
            "websocket": URLRouter(routes),
        }
    )
)

# The application is imported: out of the collector's sight, and rarer collections (gc_tuning.py).
from csms_site.gc_tuning import tune  # noqa: E402

tune(settings.GC_THRESHOLDS)
