from __future__ import annotations

from django.apps import AppConfig

from stations.background import Job


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = "Certificates"

    def ready(self) -> None:
        from certificates import remote  # noqa: F401  (declares the certificate commands)
        from stations import background

        background.contribute(renewal_job)


def renewal_job() -> Job:
    """Every OCPP_CERTIFICATE_RENEW_CHECK_SECONDS, the connected stations whose certificate the
    CSMS signed expires within OCPP_CERTIFICATE_RENEW_DAYS are asked for a new CSR (A02), each
    at most once a day: one worker of the cluster asks."""
    from django.conf import settings

    from certificates.remote import renew
    from certificates.services import renewals_due
    from stations.background import Scope
    from stations.db import in_db_thread
    from stations.remote.results import CommandRefused

    async def tick() -> str:
        asked = 0
        for station_id, protocol, kind, _ in await in_db_thread(renewals_due)(50):
            try:
                await renew(station_id, protocol, kind, user=None, source="renewal")
                asked += 1
            except CommandRefused:
                continue  # gone offline meanwhile: asked again tomorrow
        return f"asked {asked} stations to renew their certificate" if asked else ""

    return Job(
        "certificate renewal",
        Scope.CLUSTER,
        "OCPP_CERTIFICATE_RENEW_CHECK_SECONDS",
        lambda: settings.OCPP_CERTIFICATE_RENEW_CHECK_SECONDS,
        tick,
    )
