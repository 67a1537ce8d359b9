from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = "Charging stations"

    def ready(self) -> None:
        # The periodic jobs (liveness sweeps, reservation expiry, ...) are listed in
        # stations/background.py and started by the ASGI lifespan (csms_site/lifespan.py).
        from stations import checks  # noqa: F401  (registers the system checks)
