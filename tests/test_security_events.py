"""The stations' security log (OCPP 2.0.1 A04, the 1.6 security whitepaper's
SecurityEventNotification; the CSMS's side), in process with exact frames:

- every notification is stored with its type, the station's timestamp and techInfo, and a resend
  (the answer was lost) stores nothing twice;
- the types the specifications call critical are flagged, and raise an alert by default; an
  operator's OCPP_SECURITY_ALERTS replaces that choice; unknown (vendor) types are kept;
- REST lists them (`?critical=`, `?type=`, `?since=`), and the station's security page shows them
  escaped, with its alerts, which an operator acknowledges.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from monitoring.models import Alert, SecurityEvent

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-12-03T10:00:00Z"


def event(type_: str, timestamp: str = T0, **extra: str) -> dict[str, str]:
    return {"type": type_, "timestamp": timestamp, **extra}


@pytest.fixture
async def operator() -> AsyncClient:
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    return browser


async def test_a04_security_events_are_stored_once_and_critical_ones_alert(
    booted, version, operator
):
    tamper = event("TamperDetectionActivated", techInfo="<b>lid</b> opened")
    assert await booted.result("SecurityEventNotification", tamper) == {}
    assert await booted.result("SecurityEventNotification", tamper) == {}  # resent
    name = "InvalidCentralSystemCertificate" if version == "1.6" else "InvalidCsmsCertificate"
    assert await booted.result("SecurityEventNotification", event(name)) == {}
    vendor = event("AcmeDoorSensor", "2026-12-03T10:05:00Z")
    assert await booted.result("SecurityEventNotification", vendor) == {}

    stored = {e.type: e async for e in SecurityEvent.objects.filter(station_id="CP_1")}
    assert set(stored) == {"TamperDetectionActivated", name, "AcmeDoorSensor"}
    assert stored["TamperDetectionActivated"].critical
    assert stored["TamperDetectionActivated"].tech_info == "<b>lid</b> opened"
    assert not stored[name].critical and not stored["AcmeDoorSensor"].critical
    alert = await Alert.objects.aget(station_id="CP_1")  # the critical one only
    assert (alert.component, alert.variable, alert.severity) == (
        "SecurityEvent",
        "TamperDetectionActivated",
        3,
    )

    listed = (await operator.get("/api/security-events/?station=CP_1&critical=true")).json()
    assert [e["type"] for e in listed["results"]] == ["TamperDetectionActivated"]
    since = (await operator.get("/api/security-events/?since=2026-12-03T10:01:00Z")).json()
    assert [e["type"] for e in since["results"]] == ["AcmeDoorSensor"]

    page = (await operator.get("/stations/CP_1/security/")).content.decode()
    assert "&lt;b&gt;lid&lt;/b&gt; opened" in page and "<b>lid</b>" not in page
    assert f'data-alert="{alert.pk}"' in page and "critical" in page
    await operator.post(f"/alerts/{alert.pk}/acknowledge/", {"next": "/stations/CP_1/security/"})
    assert (await Alert.objects.aget(pk=alert.pk)).cleared_by == "op"


async def test_a04_the_operator_chooses_which_types_alert(booted, settings):
    settings.OCPP_SECURITY_ALERTS = frozenset({"InvalidFirmwareSignature"})
    assert await booted.result("SecurityEventNotification", event("StartupOfTheDevice")) == {}
    assert not await Alert.objects.aexists()  # critical, but not chosen
    assert await booted.result("SecurityEventNotification", event("InvalidFirmwareSignature")) == {}
    assert await Alert.objects.filter(variable="InvalidFirmwareSignature").aexists()
    assert (await SecurityEvent.objects.aget(type="StartupOfTheDevice")).critical


async def test_a_security_event_without_a_valid_timestamp_is_a_format_violation(booted, version):
    call = await booted.call(
        "SecurityEventNotification", {"type": "ResetOrReboot", "timestamp": "x"}
    )
    assert call[0] == 4  # CALLERROR, and the connection lives on
    assert await booted.heartbeat()
    assert not await SecurityEvent.objects.aexists()
