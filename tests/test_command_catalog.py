"""The command catalog (`stations.remote.catalog`): every CSMS action declared once, and a new
command is one declaration — REST, the dashboard, `ocpp_command`'s defaults and the verdict all
follow from it, with nothing else to write."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from ocppj import schemas
from stations.models import Command
from stations.remote import catalog, verdict
from stations.remote.catalog import (
    CSMS_ACTIONS,
    V16,
    V201,
    CommandSpec,
    Target,
    register,
    spec_for,
    unregister,
)
from stations.remote.forms import (
    Choice,
    FormInput,
    InputError,
    Number,
    Text,
)
from stations.remote.results import CommandResult, Outcome
from tests.ocpp_client import OcppTestClient

# The actions each version's specification lets a CSMS send that the catalog declares today:
# every one of 2.0.1's 40 (CostUpdated, the tariffs', was the last).
EXPECTED = {
    V16: 26,
    V201: 40,
}


def test_every_declared_action_exists_in_its_versions_schemas():
    for protocol, actions in CSMS_ACTIONS.items():
        assert len(actions) == EXPECTED[protocol]
        for action in actions:
            assert schemas.has_schema(protocol, action, schemas.REQUEST), (protocol, action)


def test_each_action_of_a_version_has_exactly_one_declaration():
    for protocol, actions in CSMS_ACTIONS.items():
        specs = [spec_for(protocol, action) for action in actions]
        assert all(spec is not None for spec in specs)
        assert len({id(spec) for spec in specs}) == len(actions)


def test_an_action_declared_twice_is_refused_at_once():
    with pytest.raises(ValueError, match="declared twice"):
        register(CommandSpec("reset-again", "Reset", {V201: "Reset"}))


@pytest.mark.parametrize("protocol", [V16, V201])
def test_every_default_payload_is_valid_for_its_schema(db, protocol):
    """The payload `ocpp_command` sends when given none passes the schema it is checked against."""
    for action in CSMS_ACTIONS[protocol]:
        spec = spec_for(protocol, action)
        assert spec is not None
        try:
            payload = spec.default_payload(Target("CP_X", protocol))
        except catalog.NoDefaultPayload:
            continue
        schemas.validate(protocol, action, schemas.REQUEST, payload)


@pytest.mark.parametrize(
    ("result", "accepted", "level", "status", "message"),
    [
        (CommandResult(Outcome.ANSWERED, {"status": "Accepted"}), True, "ok", 200, None),
        (
            CommandResult(
                Outcome.ANSWERED, {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
            ),
            False,
            "warning",
            200,
            "CP_1 did not accept Reset: Rejected (reason: Busy)",
        ),
        (CommandResult(Outcome.NOT_CONNECTED), False, "error", 503, "CP_1 is not connected"),
        (
            CommandResult(Outcome.TIMEOUT),
            False,
            "error",
            504,
            "CP_1 did not answer Reset within 2 s",
        ),
        (
            CommandResult(Outcome.CALL_ERROR, error_code="NotSupported", description="no"),
            False,
            "error",
            502,
            "CP_1 refused Reset: NotSupported no",
        ),
    ],
)
def test_one_verdict_for_every_outcome(result, accepted, level, status, message):
    judged = verdict.judge(result, "CP_1", "Reset", timeout=2)
    assert (judged.accepted, judged.level, judged.http_status) == (accepted, level, status)
    if message:
        assert judged.message == message


def test_the_api_keeps_the_seeds_wording_for_a_station_that_is_not_connected():
    judged = verdict.judge(CommandResult(Outcome.NOT_CONNECTED), "CP_1", "Reset")
    assert judged.api_message == "No such Charge Point. [CP_1]"


# --- adding a command: one declaration -------------------------------------------------------------


@dataclass(frozen=True)
class CostInput(FormInput):
    total_cost: int = 1

    fields = (Number("total_cost", "Cost", default=1, minimum=0),)


def _cost(value: CostInput, target: Target) -> dict[str, Any]:
    return {"totalCost": value.total_cost, "transactionId": "tx-1"}


@pytest.fixture
def cost_updated():
    """I02 CostUpdated, declared the way any new command is: the tariffs app's own declaration
    (tariffs/remote.py) is withdrawn for the test, a plain copy declared in its place."""
    real = spec_for(V201, "CostUpdated")
    assert real is not None
    unregister(real.name)
    spec = register(
        CommandSpec("cost-test", "Send the running cost", {V201: "CostUpdated"}, CostInput, _cost)
    )
    yield spec
    unregister(spec.name)
    register(real)


async def test_a_new_declaration_is_offered_by_rest_the_dashboard_and_the_defaults(
    cost_updated, make_station
):
    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", V201)
    await station.boot()
    operator = (
        AsyncClient()
    )  # a signed-in operator: the API and the dashboard both take the session
    user = await get_user_model().objects.acreate_user("operator", password="pw", is_staff=True)
    await operator.aforce_login(user)
    try:
        assert "CostUpdated" in CSMS_ACTIONS[V201]
        assert "CostUpdated" not in CSMS_ACTIONS[V16]

        # The default payload, as `ocpp_command CP_1 CostUpdated` would send it.
        response = await operator.get("/api/stations/CP_1/commands/CostUpdated/")
        assert response.json()["payload"] == {"totalCost": 1, "transactionId": "tx-1"}

        # REST: the payload itself, validated against the action's schema, sent, answered.
        request = asyncio.create_task(
            operator.post(
                "/api/stations/CP_1/commands/CostUpdated/",
                {"totalCost": 7, "transactionId": "tx-1"},
                content_type="application/json",
            )
        )
        call = await station.receive()
        assert call[2:] == ["CostUpdated", {"totalCost": 7, "transactionId": "tx-1"}]
        await station.send([3, call[1], {}])
        assert (await request).json() == {}

        # The dashboard: the station page shows the declared form, with no template of its own...
        page = (await operator.get("/stations/CP_1/")).content.decode()
        assert re.search(
            r'<form method="post" action="/stations/CP_1/actions/cost-test/" '
            r'data-action="cost-test">.*?<input name="total_cost" type="number" min="0" '
            r'value="1" aria-label="Cost"><button>Send the running cost</button></form>',
            page,
        )
        # ... and reads what it posts into the typed input; the answer is judged.
        request = asyncio.create_task(
            operator.post("/stations/CP_1/actions/cost-test/", {"total_cost": "9"})
        )
        call = await station.receive()
        assert call[2:] == ["CostUpdated", {"totalCost": 9, "transactionId": "tx-1"}]
        await station.send([3, call[1], {}])
        body = (await request).json()
        assert body["ok"] is True and "CostUpdated" in body["message"], body
        sources = [c.source async for c in Command.objects.order_by("pk")]
        assert sources == ["api", "dashboard"]
    finally:
        await station.close()


# --- the operator's form, declared with the input ---------------------------------------------------


@dataclass(frozen=True)
class _Sample(FormInput):
    token: str
    evse_id: int | None = None
    minutes: int = 15
    kind: str = "a"

    fields = (
        Text("token", "Token"),
        Number("evse_id", "EVSE", minimum=1),
        Number("minutes", "Minutes", default=15, minimum=1, maximum=60),
        Choice("kind", "Kind", (("a", "A"), ("b", "B")), default="a"),
    )


def test_a_form_is_read_into_its_input_by_the_fields_it_declares():
    assert _Sample.from_form({"token": " T1 ", "evse_id": "2", "minutes": "", "kind": "b"}) == (
        _Sample("T1", 2, 15, "b")
    )
    assert _Sample.from_form({"token": "T1"}) == _Sample("T1", None, 15, "a")


@pytest.mark.parametrize(
    "form, message",
    [
        ({}, "token is required"),
        ({"token": "T", "evse_id": "x"}, "evse_id must be a number"),
        ({"token": "T", "evse_id": "0"}, "evse_id must be at least 1"),
        ({"token": "T", "minutes": "61"}, "minutes must be between 1 and 60"),
        ({"token": "T", "kind": "c"}, "kind must be one of a, b"),
    ],
)
def test_bad_form_input_is_refused_with_a_message_naming_the_field(form, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        _Sample.from_form(form)


def test_every_form_on_the_station_page_reads_back_into_its_input():
    """What a button posts, as the page draws it (preset values, each control's initial value or
    first choice, the confirmation ticked), is read by the same declaration without an error."""
    page = {"active": [SimpleNamespace(transaction_id="7")]}
    for spec in catalog.specs():
        if spec.input is None:
            assert not spec.page_buttons()
            continue
        for button in spec.page_buttons():
            form: dict[str, str] = dict(button.preset)
            for control in (f.control(page) for f in spec.input.fields):
                choices = control.get("choices") or [("", "")]
                initial = control.get("value") or choices[0][0]
                example = control.get("placeholder") or "X"  # placeholders are examples
                form[control["name"]] = initial or ("1" if control["kind"] == "number" else example)
            if button.confirm:
                form["confirm"] = "yes"
            value = spec.read(form)
            assert spec.confirm is None or spec.confirm(value, form) is None, spec.name
