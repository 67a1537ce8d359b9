from django.apps import AppConfig


class SmartChargingConfig(AppConfig):
    name = "smartcharging"
    verbose_name = "Smart charging"

    def ready(self) -> None:
        from smartcharging import remote  # noqa: F401  (declares the smart-charging commands)
        from smartcharging.load import load_job
        from stations import background

        background.contribute(load_job)
