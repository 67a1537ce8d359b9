"""ASGI entry point: HTTP goes to Django, WebSockets under /ocpp/ to the station consumers.

Chargers send no Origin header, so the station routes have no origin check (the dashboard's socket,
which browsers open, will have one).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_site.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

# Fail at start, not at the first login: Django raises ImproperlyConfigured for an empty key.
settings.SECRET_KEY  # noqa: B018

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from stations.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
