from django.apps import AppConfig


class DisplaysConfig(AppConfig):
    name = "displays"
    verbose_name = "Display messages"

    def ready(self) -> None:
        from displays import (
            remote,  # noqa: F401  (declares the display-message commands)
            services,  # noqa: F401  (registers what completing a messages report does)
        )
