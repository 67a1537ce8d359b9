from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Diagnostics and logs"

    def ready(self) -> None:
        from diagnostics import remote  # noqa: F401  (declares GetLog and GetDiagnostics)
