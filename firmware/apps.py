from __future__ import annotations

from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "firmware"
    verbose_name = "Firmware"

    def ready(self) -> None:
        from firmware import remote  # noqa: F401  (declares the firmware commands)
        from firmware.campaigns import campaign_job
        from stations import background
        from stations.services import boot

        background.contribute(campaign_job)
        boot.after_boot.append(self._booted)

    @staticmethod
    def _booted(station_id: str, before: str, after: str, reason: str) -> None:
        from firmware.services import booted

        booted(station_id, before, after, reason)
