from django.apps import AppConfig

from stations.background import Job, Scope, in_db


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        from reservations import (
            remote,  # noqa: F401  (declares ReserveNow, CancelReservation)
            services,
        )
        from stations import background, reservation_link

        # Stations name reservations in their messages; `stations` does not import this app.
        reservation_link.connect(
            owned=services.reservation_owned,
            use=services.reservation_use,
            station_update=services.reservation_station_update,
        )

        # Reservations expire on the server's clock, even if their station says nothing: a job of
        # the whole cluster, in the registry of stations/background.py.
        background.contribute(expiry_job)


def expiry_job() -> Job:
    from django.conf import settings

    from reservations.services import reservation_expire_due

    def expire() -> str:
        expired = reservation_expire_due()
        return f"expired {expired} reservations" if expired else ""

    return Job(
        "reservation expiry",
        Scope.CLUSTER,
        "OCPP_RESERVATION_SWEEP_SECONDS",
        lambda: settings.OCPP_RESERVATION_SWEEP_SECONDS,
        in_db(expire),
    )
