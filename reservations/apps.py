from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        from reservations import (
            remote,  # noqa: F401  (declares ReserveNow, CancelReservation)
            services,
        )
        from stations import reservation_link

        # Stations name reservations in their messages; `stations` does not import this app.
        reservation_link.connect(
            owned=services.reservation_owned,
            use=services.reservation_use,
            station_update=services.reservation_station_update,
        )

        # Reservations expire on the server's clock, even if their station says nothing: a job of
        # the whole cluster, listed in stations/background.py.
