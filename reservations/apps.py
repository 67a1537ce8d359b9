from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"
    # Reservations expire on the server's clock, even if their station says nothing: a job of the
    # whole cluster, listed in stations/background.py.
