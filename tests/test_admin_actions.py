"""Admin actions on selected stations: Reset (soft/hard), availability, TriggerMessage.

The changelist POST runs through Django's AsyncClient in the same event loop as the in-process
stations, so a test answers the CALL each station receives while the admin request waits.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import AsyncClient, override_settings

from stations.clock import utcnow
from stations.models import Command, Transaction
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/stations/station/"
XSS = "<script>alert(1)</script>"
SOFT_RESET = {"1.6": {"type": "Soft"}, "2.0.1": {"type": "OnIdle"}}
HARD_RESET = {"1.6": {"type": "Hard"}, "2.0.1": {"type": "Immediate"}}
UNAVAILABLE = {
    "1.6": {"connectorId": 0, "type": "Inoperative"},
    "2.0.1": {"operationalStatus": "Inoperative"},
}
AVAILABLE = {
    "1.6": {"connectorId": 0, "type": "Operative"},
    "2.0.1": {"operationalStatus": "Operative"},
}


@database_sync_to_async
def make_staff(username: str, *, superuser: bool = False, perms: tuple[str, ...] = ()):
    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(username, password="pw")
    user = model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


async def signed_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


@pytest.fixture
async def admin_client(transactional_db) -> AsyncClient:
    return await signed_in(await make_staff("operator", superuser=True))


async def connect(make_station, identity: str, version: str) -> OcppTestClient:
    await make_station(identity)
    station, connected, _ = await OcppTestClient.open(identity, version)
    assert connected
    await station.boot()
    return station


def run_action(client: AsyncClient, action: str, *stations: str) -> asyncio.Task:
    """Start the changelist POST; it waits for the stations' answers, so it runs as a task. A hard
    reset is posted as its confirmation page posts it (`post=yes`)."""
    form = {"action": action, "_selected_action": list(stations)}
    if action == "hard_reset_stations":
        form["post"] = "yes"
    return asyncio.create_task(client.post(CHANGELIST, form))


async def reported(client: AsyncClient, response) -> list[tuple[str, str]]:
    """The (level, text) messages the action left, read from the changelist it redirects to."""
    assert response.status_code == 302 and response.url == CHANGELIST
    page = await client.get(response.url)
    assert page.status_code == 200
    return [(message.level_tag, message.message) for message in page.context["messages"]]


async def answer(station: OcppTestClient, payload: dict | None = None) -> list:
    call = await station.receive()
    assert call[0] == 2, call
    await station.send([3, call[1], payload or {"status": "Accepted"}])
    return call


@pytest.mark.parametrize(
    ("action", "sent"),
    [
        ("reset_stations", SOFT_RESET),
        ("hard_reset_stations", HARD_RESET),
        ("make_stations_unavailable", UNAVAILABLE),
        ("make_stations_available", AVAILABLE),
    ],
)
async def test_each_version_gets_its_own_payload(make_station, admin_client, version, action, sent):
    station = await connect(make_station, "CP_1", version)
    request = run_action(admin_client, action, "CP_1")
    call = await answer(station)
    expected_action = "Reset" if "reset" in action else "ChangeAvailability"
    assert call[2:] == [expected_action, sent[version]]
    messages = await reported(admin_client, await request)
    assert messages == [("success", f'CP_1 answered {expected_action}: {{"status": "Accepted"}}')]
    await station.close()


async def test_trigger_status_asks_for_a_status_notification(make_station, admin_client, version):
    station = await connect(make_station, "CP_1", version)
    request = run_action(admin_client, "trigger_status", "CP_1")
    call = await answer(station)
    assert call[2:] == ["TriggerMessage", {"requestedMessage": "StatusNotification"}]
    assert await reported(admin_client, await request) == [
        ("success", 'CP_1 answered TriggerMessage: {"status": "Accepted"}')
    ]
    await station.close()


async def test_all_selected_stations_are_sent_to_at_once(make_station, admin_client):
    """Both stations hold their CALL before either answers: a sequential loop would deadlock."""
    old = await connect(make_station, "CP_1", "1.6")
    new = await connect(make_station, "CP_2", "2.0.1")
    request = run_action(admin_client, "hard_reset_stations", "CP_1", "CP_2")
    call_1, call_2 = await old.receive(), await new.receive()
    assert (call_1[2:], call_2[2:]) == (
        ["Reset", HARD_RESET["1.6"]],
        ["Reset", HARD_RESET["2.0.1"]],
    )
    await new.send([3, call_2[1], {"status": "Rejected"}])
    await old.send([3, call_1[1], {"status": "Accepted"}])
    assert await reported(admin_client, await request) == [
        ("success", 'CP_1 answered Reset: {"status": "Accepted"}'),
        ("warning", "CP_2 did not accept Reset: Rejected"),
    ]
    commands = [
        (
            command.station_id,
            command.source,
            command.outcome,
            getattr(command.requested_by, "username", None),
        )
        async for command in Command.objects.select_related("requested_by").order_by("station_id")
    ]
    assert commands == [
        ("CP_1", "admin", "answered", "operator"),
        ("CP_2", "admin", "answered", "operator"),
    ]
    await old.close()
    await new.close()


async def test_a_station_that_is_not_connected_does_not_hold_up_the_others(
    make_station, admin_client
):
    station = await connect(make_station, "CP_1", "2.0.1")
    await make_station("CP_2")
    request = run_action(admin_client, "reset_stations", "CP_1", "CP_2")
    await answer(station)
    assert await reported(admin_client, await request) == [
        ("success", 'CP_1 answered Reset: {"status": "Accepted"}'),
        ("error", "CP_2 is not connected"),
    ]
    outcomes = [
        (command.station_id, command.source, command.outcome)
        async for command in Command.objects.order_by("station_id")
    ]
    assert outcomes == [("CP_1", "admin", "answered"), ("CP_2", "admin", "not_connected")]
    await station.close()


async def test_a_call_error_is_reported_and_stays_escaped(make_station, admin_client, version):
    station = await connect(make_station, "CP_1", version)
    request = run_action(admin_client, "trigger_status", "CP_1")
    call = await station.receive()
    await station.send([4, call[1], "NotSupported", XSS, {}])
    response = await request
    page = await admin_client.get(response.url)
    messages = [(message.level_tag, message.message) for message in page.context["messages"]]
    assert messages == [("error", f"CP_1 refused TriggerMessage: NotSupported {XSS}")]
    content = page.content.decode()
    assert "NotSupported &lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert XSS not in content
    assert (await Command.objects.aget()).outcome == "call_error"
    await station.close()


@override_settings(OCPP_CALL_TIMEOUT=0.3)
async def test_a_station_that_does_not_answer_is_reported(make_station, admin_client):
    station = await connect(make_station, "CP_1", "2.0.1")
    response = await run_action(admin_client, "reset_stations", "CP_1")
    assert await reported(admin_client, response) == [
        ("error", "CP_1 did not answer Reset within 0.3 s")
    ]
    await station.receive()  # the CALL went out
    await station.close()


async def test_staff_without_change_permission_cannot_run_the_actions(make_station):
    station = await connect(make_station, "CP_1", "2.0.1")
    viewer = await signed_in(await make_staff("viewer", perms=("view_station",)))

    page = await viewer.get(CHANGELIST)
    assert page.status_code == 200
    assert b"reset_stations" not in page.content and b"trigger_status" not in page.content
    response = await viewer.post(
        CHANGELIST, {"action": "reset_stations", "_selected_action": ["CP_1"]}
    )
    assert response.status_code in (200, 302)

    nobody = await signed_in(await make_staff("nobody"))
    response = await nobody.post(
        CHANGELIST, {"action": "reset_stations", "_selected_action": ["CP_1"]}
    )
    assert response.status_code == 403

    assert "currentTime" in await station.heartbeat()  # the next frame is our own: nothing sent
    assert not await Command.objects.aexists()
    await station.close()


async def test_a_hard_reset_first_asks_for_confirmation_and_sends_nothing(
    make_station, admin_client, db_run
):
    """Like Django's delete action: the changelist POST shows what will happen, nothing more."""
    station = await connect(make_station, "CP_1", "2.0.1")
    await make_station("CP_2")
    for evse in (1, 2):
        await db_run(
            Transaction.objects.create, station_id="CP_1", evse_id=evse, started_at=utcnow()
        )
    page = await admin_client.post(
        CHANGELIST, {"action": "hard_reset_stations", "_selected_action": ["CP_1", "CP_2"]}
    )
    assert page.status_code == 200
    content = page.content.decode()
    assert "Hard reset: are you sure?" in content
    assert "2 charging sessions will be interrupted" in content
    assert "CP_1 — online, 2 charging sessions" in content and "CP_2 — offline" in content
    for hidden in (
        '<input type="hidden" name="_selected_action" value="CP_1">',
        '<input type="hidden" name="_selected_action" value="CP_2">',
        '<input type="hidden" name="action" value="hard_reset_stations">',
        '<input type="hidden" name="post" value="yes">',
    ):
        assert hidden in content
    assert "currentTime" in await station.heartbeat()  # the next frame is our own: nothing sent
    assert not await Command.objects.aexists()
    await station.close()


async def test_the_confirmation_page_escapes_station_identities(make_station, admin_client):
    await make_station("CP_<b>")
    page = await admin_client.post(
        CHANGELIST, {"action": "hard_reset_stations", "_selected_action": ["CP_<b>"]}
    )
    content = page.content.decode()
    assert "CP_&lt;b&gt;" in content and "CP_<b>" not in content


async def test_confirming_the_hard_reset_sends_it(make_station, admin_client, version):
    station = await connect(make_station, "CP_1", version)
    request = run_action(admin_client, "hard_reset_stations", "CP_1")  # with post=yes
    call = await answer(station)
    assert call[2:] == ["Reset", HARD_RESET[version]]
    assert await reported(admin_client, await request) == [
        ("success", 'CP_1 answered Reset: {"status": "Accepted"}')
    ]
    await station.close()


async def test_a_soft_reset_needs_no_confirmation(make_station, admin_client):
    station = await connect(make_station, "CP_1", "2.0.1")
    request = asyncio.create_task(
        admin_client.post(CHANGELIST, {"action": "reset_stations", "_selected_action": ["CP_1"]})
    )
    assert (await answer(station))[2:] == ["Reset", SOFT_RESET["2.0.1"]]
    assert (await request).status_code == 302
    await station.close()
