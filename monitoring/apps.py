from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring, events and alerts"

    def ready(self) -> None:
        from monitoring import (
            remote,  # noqa: F401  (declares the monitoring and customer-information commands)
            services,  # noqa: F401  (registers what completing a monitoring report does)
        )
