from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = "Charging stations"

    def ready(self) -> None:
        from django.conf import settings

        from stations import checks  # noqa: F401  (registers the system checks)
        from stations.liveness import check_interval
        from stations.recorders import flusher
        from stations.services.liveness import (
            flag_stale_transactions,
            mark_dead_connections_offline,
        )

        # Every worker sweeps for stations whose worker died, and for transactions left open by
        # stations gone for too long (see stations.services.liveness).
        flusher.every(
            "dead connections",
            lambda: check_interval(settings.OCPP_SILENCE_TIMEOUT),
            mark_dead_connections_offline,
        )
        flusher.every(
            "stale transactions",
            lambda: check_interval(settings.OCPP_STALE_TRANSACTION_AFTER),
            flag_stale_transactions,
        )
