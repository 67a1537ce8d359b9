"""Alerts where operators look (in process, exact frames): a station's NotifyEvent without a
known monitor raises an alert when it is Alerting (N07), the overview and the configuration page
show it escaped, an operator acknowledges it; a resent NotifyEvent stores nothing twice."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from monitoring.models import Alert, StationNotice
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

EVENT = {
    "generatedAt": "2026-12-03T10:00:00Z",
    "seqNo": 0,
    "eventData": [
        {
            "eventId": 5,
            "timestamp": "2026-12-03T10:00:00Z",
            "trigger": "Alerting",
            "actualValue": "<b>Overheat</b>",
            "techInfo": "sensor 2",
            "eventNotificationType": "HardWiredMonitor",
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Problem"},
        },
        {
            "eventId": 6,
            "timestamp": "2026-12-03T10:00:00Z",
            "trigger": "Delta",
            "actualValue": "Occupied",
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "AvailabilityState"},
        },
    ],
}


async def test_n07_alerts_show_where_operators_look_and_can_be_acknowledged(make_station):
    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    try:
        await client.boot()
        assert await client.result("NotifyEvent", EVENT) == {}
        assert await client.result("NotifyEvent", EVENT) == {}  # resent: stored once
        assert await StationNotice.objects.acount() == 2
        alert = await Alert.objects.aget()  # the Delta notification is no alert
        assert (alert.component, alert.variable) == ("EVSE@1", "Problem")

        await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
        browser = AsyncClient()
        await browser.alogin(username="op", password="pw")
        for page in ("/", "/stations/CP_1/configuration/"):
            html = (await browser.get(page)).content.decode()
            assert f'data-alert="{alert.pk}"' in html, page
            assert "&lt;b&gt;Overheat&lt;/b&gt;" in html and "<b>Overheat</b>" not in html
        response = await browser.post(
            f"/alerts/{alert.pk}/acknowledge/", {"next": "/stations/CP_1/configuration/"}
        )
        assert response.status_code == 302
        assert response["Location"] == "/stations/CP_1/configuration/"
        alert = await Alert.objects.aget()
        assert alert.cleared_at is not None and alert.cleared_by == "op"
        assert "No open alert." in (await browser.get("/")).content.decode()
        # An unsafe `next` goes to the overview instead.
        other = await Alert.objects.acreate(
            station_id="CP_1", component="X", variable="Y", message="m", raised_at=alert.raised_at
        )
        response = await browser.post(
            f"/alerts/{other.pk}/acknowledge/", {"next": "https://evil.example/"}
        )
        assert response["Location"] == "/"
    finally:
        await client.close()
