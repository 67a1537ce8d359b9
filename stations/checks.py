"""System checks for OCPP settings that would be dangerous in production."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


def _secret_key() -> str:
    """SECRET_KEY, or "" when unset: reading an empty one through `settings` raises."""
    try:
        return settings.SECRET_KEY
    except ImproperlyConfigured:
        return ""


@register()
def secret_key_is_set(app_configs, **kwargs):
    if settings.DEBUG or _secret_key():
        return []
    return [
        Error(
            "SECRET_KEY must be set when DEBUG is off.",
            hint="Set the SECRET_KEY environment variable to a long random string.",
            id="stations.E001",
        )
    ]


@register(deploy=True)
def ocpp_production_settings(app_configs, **kwargs):
    warnings = []
    if settings.OCPP_AUTO_REGISTER:
        warnings.append(
            Warning(
                "OCPP_AUTO_REGISTER is on: any client can register itself as a station.",
                hint="Set OCPP_AUTO_REGISTER=0 and register stations in admin or with "
                "`manage.py register_station`.",
                id="stations.W001",
            )
        )
    if settings.OCPP_ACCEPT_UNKNOWN_ID_TOKENS:
        warnings.append(
            Warning(
                "OCPP_ACCEPT_UNKNOWN_ID_TOKENS is on: every ID token is accepted.",
                hint="Set OCPP_ACCEPT_UNKNOWN_ID_TOKENS=0 in production.",
                id="stations.W002",
            )
        )
    if not settings.OCPP_REQUIRE_PASSWORD:
        warnings.append(
            Warning(
                "OCPP_REQUIRE_PASSWORD is off: stations without a password may connect.",
                hint="Set OCPP_REQUIRE_PASSWORD=1 in production.",
                id="stations.W003",
            )
        )
    host = urlsplit(settings.CSMS_PUBLIC_URL).hostname or ""
    if host in ("", "localhost") or host.startswith("127."):
        warnings.append(
            Warning(
                f"CSMS_PUBLIC_URL is {settings.CSMS_PUBLIC_URL!r}: stations are told to upload "
                "their logs there, and cannot reach it.",
                hint="Set CSMS_PUBLIC_URL to the address stations reach this CSMS at, "
                "e.g. https://csms.example.com.",
                id="stations.W004",
            )
        )
    return warnings
