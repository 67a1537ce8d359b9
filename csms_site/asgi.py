"""ASGI entry point: HTTP goes to Django; WebSockets under /ocpp/ to the station consumers and
/ws/dashboard/ to the operators' live feed.

Chargers send no Origin header, so the station routes have no origin check. Browsers do, so the
dashboard's socket checks it against ALLOWED_HOSTS and authenticates with the session cookie.
"""

import os

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

from dashboard.consumers import DashboardConsumer  # noqa: E402
from stations.routing import websocket_urlpatterns  # noqa: E402

dashboard_socket = AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [re_path(r"^ws/dashboard/$", dashboard_socket), *websocket_urlpatterns]
        ),
    }
)
