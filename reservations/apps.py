from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        from django.conf import settings

        from reservations.services import reservation_expire_due
        from stations.recorders import flusher

        # Reservations expire on the server's clock, even if their station says nothing.
        flusher.every(
            "reservation expiry",
            lambda: settings.OCPP_RESERVATION_SWEEP_SECONDS,
            reservation_expire_due,
        )
