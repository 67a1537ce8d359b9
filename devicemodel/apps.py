from django.apps import AppConfig


class DeviceModelConfig(AppConfig):
    name = "devicemodel"
    verbose_name = "Device model and configuration"

    def ready(self) -> None:
        from devicemodel import remote  # noqa: F401  (declares the configuration commands)
