"""The stations' security log (OCPP 2.0.1 A04, the 1.6 security whitepaper's
SecurityEventNotification): every event stored once, the critical ones flagged, and an alert raised
for the types the operator wants to act on.

The specifications list the security events and mark the critical ones, which a station must
deliver (queued while it is offline); the list is the same in both versions but for the names of
the CSMS (1.6 "CentralSystem", 2.0.1 "Csms"). Unknown types (a vendor's own) are stored too, not
critical. By default an alert is raised for every critical type; OCPP_SECURITY_ALERTS (a list of
types) replaces that choice, e.g. to leave out StartupOfTheDevice and ResetOrReboot, which every
reboot sends. An alert stays open, one per station and type, until an operator acknowledges it:
no station clears a security event.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.transaction import atomic

from monitoring.models import Alert, SecurityEvent
from stations import events

CRITICAL = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)
KNOWN = CRITICAL | {
    "FailedToAuthenticateAtCsms",
    "FailedToAuthenticateAtCentralSystem",
    "CsmsFailedToAuthenticate",
    "CentralSystemFailedToAuthenticate",
    "ReconfigurationOfSecurityParameters",
    "InvalidMessages",
    "AttemptedReplayAttacks",
    "InvalidFirmwareSignature",
    "InvalidFirmwareSigningCertificate",
    "InvalidCsmsCertificate",
    "InvalidCentralSystemCertificate",
    "InvalidChargingStationCertificate",
    "InvalidChargePointCertificate",
    "InvalidTLSVersion",
    "InvalidTLSCipherSuite",
    "MaintenanceLoginAccepted",
    "MaintenanceLoginFailed",
}
COMPONENT = "SecurityEvent"  # the alert's component; its variable is the event's type
SEVERITY = 3  # "Critical" on OCPP's monitoring scale


def raises_alert(type_: str) -> bool:
    chosen = settings.OCPP_SECURITY_ALERTS
    return type_ in (CRITICAL if chosen is None else chosen)


def received(station_id: str, type_: str, timestamp: datetime, tech_info: str) -> SecurityEvent:
    """One SecurityEventNotification: stored once (a resend changes nothing), with its alert."""
    with atomic():
        event, created = SecurityEvent.objects.get_or_create(
            station_id=station_id,
            type=type_[:50],
            timestamp=timestamp,
            defaults={"tech_info": tech_info[:255], "critical": type_ in CRITICAL},
        )
        if created:
            events.publish("security_event", station=station_id, type=event.type)
        if created and raises_alert(event.type):
            message = event.type + (f" ({event.tech_info})" if event.tech_info else "")
            Alert.objects.update_or_create(
                station_id=station_id,
                component=COMPONENT,
                variable=event.type,
                cleared_at=None,
                defaults={"severity": SEVERITY, "message": message, "raised_at": timestamp},
            )
            events.publish("alert", station=station_id, active=True)
        return event
