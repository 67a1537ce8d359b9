from django.urls import re_path

from stations.consumers import StationConsumer

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<version>1\.6|2\.0\.1)/(?P<station_id>[^/]+)/?$", StationConsumer.as_asgi()),
    re_path(r"^ocpp/(?P<station_id>[^/]+)/?$", StationConsumer.as_asgi()),
]
