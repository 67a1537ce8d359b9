"""The REST API for stations, transactions, ID tokens and the logs: who may do what, what each
answer holds (and never holds: station passwords), the filters, and the generated documentation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stations.models import (
    Command,
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    RegistrationStatus,
    Station,
    Transaction,
)
from stations.passwords import check_station_password, make_station_password
from tests.api_clients import make_user
from tests.ocpp_client import OcppTestClient

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "another-long-secret-key"
HIDDEN_FIELDS = {"password_hash", "channel_name", "session", "remote_address", "password"}
STAFF_ONLY_FIELDS = {
    "failed_logins",
    "last_failed_login_at",
    "connected_at",
    "disconnected_at",
    "last_boot_at",
    "boot_status",
}


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def users(db):
    make = get_user_model().objects.create_user
    return {
        "anonymous": None,
        "driver": make("driver", password="driver-password-1"),
        "other_driver": make("other", password="other-password-1"),
        "staff": make("operator", password="staff-password-1", is_staff=True),
    }


@pytest.fixture
def api(users):
    """An API client signed in as `role` with its token, as a script or an app would be."""

    def client(role: str) -> APIClient:
        api_client = APIClient()
        if users[role] is not None:
            token, _ = Token.objects.get_or_create(user=users[role])
            api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api_client

    return client


@pytest.fixture
def data(users):
    """Three stations in different states, a transaction for each driver, the logs."""
    now = timezone.now()
    cp1 = Station.objects.create(
        id="CP_1",
        password_hash=make_station_password(PASSWORD),
        protocol="2.0.1",
        connected=True,
        vendor="RalphCo",
        model="Wallbox XYZ",
        status="",
        channel_name="specific.abc!def",
        session=3,
        remote_address="10.0.0.7",
        failed_logins=2,
        boot_status=RegistrationStatus.ACCEPTED,
    )
    Connector.objects.create(station=cp1, evse_id=1, connector_id=1, status="Available")
    Connector.objects.create(station=cp1, evse_id=1, connector_id=2, status="Available")
    Connector.objects.create(station=cp1, evse_id=2, connector_id=1, status="Charging")
    cp2 = Station.objects.create(id="CP.2-b", protocol="1.6", vendor="Other", status="Faulted")
    Connector.objects.create(station=cp2, evse_id=1, status="Faulted")
    cp3 = Station.objects.create(
        id="CP_3", protocol="2.0.1", connected=True, registration_status=RegistrationStatus.PENDING
    )
    Connector.objects.create(station=cp3, evse_id=1, status="Available")
    Station.objects.create(id="CP_EMPTY")

    IdToken.objects.create(token="TAG-D1", user=users["driver"])
    IdToken.objects.create(token="TAG-D2", user=users["other_driver"])
    tx1 = Transaction.objects.create(
        station=cp1,
        evse_id=1,
        ocpp_id="tx-1",
        id_token="TAG-D1",
        started_at=now - timedelta(hours=1),
        energy_wh=500,
    )
    MeterSample.objects.create(station=cp1, transaction=tx1, evse_id=1, timestamp=now, value=500)
    MeterSample.objects.create(
        station=cp1, transaction=tx1, evse_id=1, timestamp=now - timedelta(minutes=30), value=200
    )
    tx2 = Transaction.objects.create(
        station=cp2,
        evse_id=1,
        id_token="TAG-D2",
        started_at=now - timedelta(hours=2),
        stopped_at=now - timedelta(hours=1),
        is_active=False,
    )
    for n in range(3):
        MessageLog.objects.create(
            station_id="CP_1",
            direction=MessageLog.Direction.IN if n % 2 == 0 else MessageLog.Direction.OUT,
            message_type=2,
            action="Heartbeat",
            unique_id=str(n),
            frame=f'[2,"{n}","Heartbeat",{{}}]',
            created_at=now - timedelta(minutes=10 - n),
        )
    command = Command.objects.create(
        station_id="CP_1",
        action="Reset",
        payload={"type": "Immediate"},
        requested_by=users["staff"],
        outcome="answered",
        response={"status": "Accepted"},
        duration_ms=12.5,
    )
    Command.objects.create(station_id="CP.2-b", action="ClearCache", outcome="not_connected")
    return {"tx1": tx1, "tx2": tx2, "command": command}


# --- Permission matrix --------------------------------------------------------------------------

ROLES = ["anonymous", "driver", "other_driver", "staff"]
NEW_STATION = {"id": "CP_NEW", "password": PASSWORD}
NEW_TOKEN = {"token": "TAG-NEW"}

# Each row: method, URL, body, then the expected status for each of ROLES.
# {tx} is the first driver's transaction, {token} their ID token, {command} a logged command.
MATRIX = [
    # method   URL                              body                     anon driver other staff
    ("get", "/api/stations/", None, 401, 200, 200, 200),
    ("get", "/api/stations/CP_1/", None, 401, 200, 200, 200),
    ("get", "/api/stations/CP.2-b/", None, 401, 200, 200, 200),
    ("post", "/api/stations/", NEW_STATION, 401, 403, 403, 201),
    ("patch", "/api/stations/CP_1/", {"registration_status": "Rejected"}, 401, 403, 403, 200),
    ("delete", "/api/stations/CP_EMPTY/", None, 401, 403, 403, 204),
    ("get", "/api/transactions/", None, 401, 200, 200, 200),
    ("get", "/api/transactions/{tx}/", None, 401, 200, 404, 200),
    ("post", "/api/transactions/", {}, 401, 405, 405, 405),
    ("delete", "/api/transactions/{tx}/", None, 401, 405, 405, 405),
    ("get", "/api/id-tokens/", None, 401, 403, 403, 200),
    ("get", "/api/id-tokens/{token}/", None, 401, 403, 403, 200),
    ("post", "/api/id-tokens/", NEW_TOKEN, 401, 403, 403, 201),
    ("patch", "/api/id-tokens/{token}/", {"status": "Blocked"}, 401, 403, 403, 200),
    ("delete", "/api/id-tokens/{token}/", None, 401, 403, 403, 204),
    ("get", "/api/stations/CP_1/messages/", None, 401, 403, 403, 200),
    ("get", "/api/commands/", None, 401, 403, 403, 200),
    ("get", "/api/commands/{command}/", None, 401, 403, 403, 200),
    ("get", "/api/cp_ids/", None, 401, 200, 200, 200),
    ("get", "/api/", None, 401, 200, 200, 200),
]

PERMISSION_CASES = [
    pytest.param(role, method, url, body, expected[i], id=f"{role}-{method.upper()} {url}")
    for method, url, body, *expected in MATRIX
    for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("role", "method", "url", "body", "expected"), PERMISSION_CASES)
def test_each_role_gets_what_the_permission_matrix_says(
    api, data, role, method, url, body, expected
):
    url = url.format(
        tx=data["tx1"].pk,
        token=IdToken.objects.get(token="TAG-D1").pk,
        command=data["command"].pk,
    )

    response = getattr(api(role), method)(url, body, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error_code"] == expected
        assert response.json()["message"]
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"


def test_a_driver_sees_only_the_transactions_of_their_own_id_tokens(api, data):
    mine = api("driver").get("/api/transactions/").json()["results"]
    theirs = api("other_driver").get("/api/transactions/").json()["results"]
    everything = api("staff").get("/api/transactions/").json()["results"]

    assert [t["transaction_id"] for t in mine] == ["tx-1"]
    assert [t["id"] for t in theirs] == [data["tx2"].pk]
    assert {t["id"] for t in everything} == {data["tx1"].pk, data["tx2"].pk}


def test_a_driver_cannot_read_another_drivers_transaction_even_by_its_id(api, data):
    response = api("other_driver").get(f"/api/transactions/{data['tx1'].pk}/")

    assert response.status_code == 404
    assert set(response.json()) >= {"error_code", "message"}


# --- Authentication -----------------------------------------------------------------------------


def test_a_token_in_the_authorization_header_signs_the_user_in(users, data):
    token = Token.objects.create(user=users["staff"])
    client = APIClient()

    response = client.get("/api/id-tokens/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_a_wrong_token_is_refused_with_401(data):
    response = APIClient().get("/api/stations/", HTTP_AUTHORIZATION="Token not-a-real-key")

    assert response.status_code == 401
    assert response.json()["error_code"] == 401


def test_a_browser_session_signs_the_user_in(users, data):
    client = APIClient()
    client.force_login(users["staff"])

    response = client.get("/api/id-tokens/")

    assert response.status_code == 200


# --- Stations: what is shown --------------------------------------------------------------------


def test_the_station_detail_lists_each_evse_with_its_connectors(api, data):
    station = api("driver").get("/api/stations/CP_1/").json()

    assert station["evses"] == [
        {
            "evse_id": 1,
            "connectors": [
                {"connector_id": 1, "status": "Available", "error_code": "", "status_at": None},
                {"connector_id": 2, "status": "Available", "error_code": "", "status_at": None},
            ],
        },
        {
            "evse_id": 2,
            "connectors": [
                {"connector_id": 1, "status": "Charging", "error_code": "", "status_at": None}
            ],
        },
    ]
    assert station["available"] is True
    assert (station["vendor"], station["protocol"], station["connected"]) == (
        "RalphCo",
        "2.0.1",
        True,
    )


def test_the_station_level_status_is_the_16_connector_zero(api, data):
    station = api("driver").get("/api/stations/CP.2-b/").json()

    assert station["status"] == "Faulted"
    assert station["evses"][0]["connectors"][0]["status"] == "Faulted"


def test_a_driver_sees_no_secrets_and_no_login_history(api, data):
    for station in [
        api("driver").get("/api/stations/CP_1/").json(),
        *api("driver").get("/api/stations/").json()["results"],
    ]:
        assert not set(station) & (HIDDEN_FIELDS | STAFF_ONLY_FIELDS)


def test_staff_see_the_login_and_boot_history_but_no_secrets(api, data):
    station = api("staff").get("/api/stations/CP_1/").json()

    assert set(station) >= STAFF_ONLY_FIELDS
    assert station["failed_logins"] == 2
    assert not set(station) & HIDDEN_FIELDS


@pytest.mark.parametrize("stations", [2, 20])
def test_the_station_list_costs_the_same_few_queries_however_many_stations(
    api, db, django_assert_max_num_queries, stations
):
    for n in range(stations):
        station = Station.objects.create(id=f"CP_{n}", connected=True)
        Connector.objects.create(station=station, evse_id=1, status="Available")
        Connector.objects.create(station=station, evse_id=2, status="Charging")
    client = api("driver")

    # Token and user, count, page, connectors.
    with django_assert_max_num_queries(4):
        response = client.get("/api/stations/")

    assert response.json()["count"] == stations
    assert all(len(s["evses"]) == 2 for s in response.json()["results"])


# --- Stations: filters --------------------------------------------------------------------------


def station_ids(api, query: str) -> set[str]:
    response = api("driver").get(f"/api/stations/?{query}")
    assert response.status_code == 200, response.content
    return {s["id"] for s in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("connected=true", {"CP_1", "CP_3"}),
        ("connected=false", {"CP.2-b", "CP_EMPTY"}),
        ("status=Available", {"CP_1", "CP_3"}),
        ("status=Charging", {"CP_1"}),
        ("status=Faulted", {"CP.2-b"}),
        ("available=true", {"CP_1"}),
        ("available=false", {"CP.2-b", "CP_3", "CP_EMPTY"}),
        ("protocol=1.6", {"CP.2-b"}),
        ("protocol=2.0.1", {"CP_1", "CP_3"}),
        ("registration_status=Pending", {"CP_3"}),
        ("connected=true&registration_status=Accepted", {"CP_1"}),
        ("search=ralph", {"CP_1"}),
        ("search=CP.2", {"CP.2-b"}),
    ],
)
def test_stations_can_be_filtered(api, data, query, expected):
    assert station_ids(api, query) == expected


def test_a_station_with_several_matching_connectors_is_listed_once(api, data):
    response = api("driver").get("/api/stations/?status=Available")

    ids = [s["id"] for s in response.json()["results"]]
    assert ids.count("CP_1") == 1 and response.json()["count"] == 2


def test_an_unknown_filter_value_is_a_400_in_the_error_shape(api, data):
    response = api("driver").get("/api/stations/?protocol=3.0")

    assert response.status_code == 400
    assert "protocol" in response.json()["errors"]


# --- Stations: registration by staff ------------------------------------------------------------


def test_creating_a_station_stores_only_a_hash_of_its_password(api, db, users):
    client = api("staff")

    created = client.post(
        "/api/stations/",
        {"id": "CP_NEW", "password": PASSWORD, "registration_status": "Pending"},
        format="json",
    )

    assert created.status_code == 201, created.content
    station = Station.objects.get(pk="CP_NEW")
    assert station.password_hash.startswith("sha256$")
    assert check_station_password(PASSWORD.encode(), station.password_hash)
    assert station.registration_status == "Pending"
    assert created.json()["id"] == "CP_NEW" and created.json()["available"] is False
    responses = [created, client.get("/api/stations/CP_NEW/"), client.get("/api/stations/")]
    for response in responses:
        assert PASSWORD not in response.content.decode()
        assert station.password_hash not in response.content.decode()
        assert "password" not in response.content.decode()


def test_a_station_created_without_a_password_has_none(api, db, users):
    response = api("staff").post("/api/stations/", {"id": "CP_OPEN"}, format="json")

    assert response.status_code == 201
    station = Station.objects.get(pk="CP_OPEN")
    assert station.password_hash == ""
    assert station.registration_status == "Accepted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "CP_NEW", "password": "short"}, "password"),
        ({"id": "CP_NEW", "password": "x" * 65}, "password"),
        ({"id": "CP:1", "password": PASSWORD}, "id"),
        ({"id": "CP/1", "password": PASSWORD}, "id"),
        ({"id": "x" * 49, "password": PASSWORD}, "id"),
        ({"id": "", "password": PASSWORD}, "id"),
        ({"password": PASSWORD}, "id"),
        ({"id": "CP_NEW", "registration_status": "Maybe"}, "registration_status"),
    ],
)
def test_an_invalid_station_is_refused_with_the_field_named(api, db, users, body, field):
    response = api("staff").post("/api/stations/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}
    assert response.json()["error_code"] == 400 and response.json()["message"]
    assert "short" not in json.dumps(response.json())
    assert not Station.objects.exists()


def test_registering_an_existing_identity_is_refused(api, data):
    response = api("staff").post(
        "/api/stations/", {"id": "CP_1", "password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["id"] == ["A station with this identity already exists."]
    assert check_station_password(PASSWORD.encode(), Station.objects.get(pk="CP_1").password_hash)


def test_patching_a_station_changes_its_registration_status_and_keeps_its_password(api, data):
    old_hash = Station.objects.get(pk="CP_1").password_hash

    response = api("staff").patch(
        "/api/stations/CP_1/", {"registration_status": "Rejected"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["registration_status"] == "Rejected"
    assert response.json()["available"] is False
    station = Station.objects.get(pk="CP_1")
    assert (station.registration_status, station.password_hash) == ("Rejected", old_hash)


def test_patching_a_station_with_a_password_replaces_the_hash(api, data):
    response = api("staff").patch("/api/stations/CP_1/", {"password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200
    assert NEW_PASSWORD not in response.content.decode()
    station = Station.objects.get(pk="CP_1")
    assert check_station_password(NEW_PASSWORD.encode(), station.password_hash)
    assert not check_station_password(PASSWORD.encode(), station.password_hash)


def test_patching_a_station_refuses_a_short_password_and_keeps_the_old_one(api, data):
    response = api("staff").patch("/api/stations/CP_1/", {"password": "short"}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert check_station_password(PASSWORD.encode(), Station.objects.get(pk="CP_1").password_hash)


def test_patching_cannot_rename_a_station_or_change_what_it_reported(api, data):
    response = api("staff").patch(
        "/api/stations/CP_1/",
        {"id": "CP_RENAMED", "vendor": "Forged", "connected": False, "failed_logins": 0},
        format="json",
    )

    assert response.status_code == 200
    station = Station.objects.get(pk="CP_1")
    assert (station.vendor, station.connected, station.failed_logins) == ("RalphCo", True, 2)
    assert not Station.objects.filter(pk="CP_RENAMED").exists()


def test_a_station_cannot_be_replaced_wholesale_with_put(api, data):
    response = api("staff").put("/api/stations/CP_1/", {"id": "CP_1"}, format="json")

    assert response.status_code == 405


def test_deleting_a_station_removes_it(api, data):
    response = api("staff").delete("/api/stations/CP_3/")

    assert response.status_code == 204
    assert not Station.objects.filter(pk="CP_3").exists()
    assert not Connector.objects.filter(station_id="CP_3").exists()


def test_a_station_with_transactions_is_kept_with_a_409(api, data):
    response = api("staff").delete("/api/stations/CP_1/")

    assert response.status_code == 409
    assert response.json()["error_code"] == 409
    assert "transaction" in response.json()["message"]
    assert Station.objects.filter(pk="CP_1").exists()


def test_an_unknown_station_is_a_json_404(api, data):
    response = api("driver").get("/api/stations/NOPE/")

    assert response.status_code == 404
    assert response.json()["error_code"] == 404


# --- Transactions -------------------------------------------------------------------------------


def test_a_transaction_shows_the_id_the_station_knows_and_its_samples_in_time_order(api, data):
    tx = api("driver").get(f"/api/transactions/{data['tx1'].pk}/").json()

    assert tx["transaction_id"] == "tx-1" and tx["station"] == "CP_1"
    assert [s["value"] for s in tx["samples"]] == [200, 500]
    assert set(tx["samples"][0]) == {
        "timestamp",
        "measurand",
        "phase",
        "unit",
        "context",
        "location",
        "value",
    }


def test_a_16_transaction_is_known_by_its_row_id(api, data):
    tx = api("staff").get(f"/api/transactions/{data['tx2'].pk}/").json()

    assert tx["transaction_id"] == str(data["tx2"].pk)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("station=CP_1", {"tx1"}),
        ("station=CP.2-b", {"tx2"}),
        ("station=NOPE", set()),
        ("active=true", {"tx1"}),
        ("active=false", {"tx2"}),
        ("id_token=TAG-D2", {"tx2"}),
        ("station=CP_1&active=false", set()),
    ],
)
def test_transactions_can_be_filtered(api, data, query, expected):
    response = api("staff").get(f"/api/transactions/?{query}")

    assert response.status_code == 200
    assert {t["id"] for t in response.json()["results"]} == {data[k].pk for k in expected}


# --- ID tokens ----------------------------------------------------------------------------------


def test_an_id_token_names_its_group_by_token_string(api, data, users):
    client = api("staff")
    client.post("/api/id-tokens/", {"token": "GROUP", "type": "Central"}, format="json")

    response = client.post(
        "/api/id-tokens/",
        {"token": "TAG-NEW", "parent": "GROUP", "user": users["driver"].pk},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert (response.json()["parent"], response.json()["user"]) == ("GROUP", users["driver"].pk)
    parent = IdToken.objects.get(token="TAG-NEW").parent
    assert parent is not None and parent.token == "GROUP"


def test_an_id_token_cannot_be_its_own_group(api, data):
    group = IdToken.objects.create(token="GROUP")
    IdToken.objects.filter(token="TAG-D1").update(parent=group)
    member_pk = IdToken.objects.get(token="TAG-D1").pk

    response = api("staff").patch(
        f"/api/id-tokens/{group.pk}/", {"parent": "TAG-D1"}, format="json"
    )
    itself = api("staff").patch(f"/api/id-tokens/{member_pk}/", {"parent": "TAG-D1"}, format="json")

    assert response.status_code == itself.status_code == 400
    assert "parent" in response.json()["errors"]


def test_an_unknown_group_token_is_refused(api, data):
    response = api("staff").post(
        "/api/id-tokens/", {"token": "TAG-NEW", "parent": "NOPE"}, format="json"
    )

    assert response.status_code == 400
    assert "parent" in response.json()["errors"]


def test_id_tokens_can_be_filtered_by_status_and_user(api, data, users):
    IdToken.objects.create(token="BLOCKED", status="Blocked")
    client = api("staff")

    blocked = client.get("/api/id-tokens/?status=Blocked").json()["results"]
    drivers = client.get(f"/api/id-tokens/?user={users['driver'].pk}").json()["results"]

    assert [t["token"] for t in blocked] == ["BLOCKED"]
    assert [t["token"] for t in drivers] == ["TAG-D1"]


# --- Message and command logs -------------------------------------------------------------------


def test_the_message_log_is_paginated_newest_first(api, data):
    now = timezone.now()
    MessageLog.objects.bulk_create(
        MessageLog(
            station_id="CP_1",
            direction="in",
            message_type=2,
            action="MeterValues",
            unique_id=f"m{n}",
            frame="[]",
            created_at=now + timedelta(seconds=n),
        )
        for n in range(60)
    )
    client = api("staff")

    first = client.get("/api/stations/CP_1/messages/").json()
    second = client.get(first["next"]).json()

    assert first["count"] == 63
    assert len(first["results"]) == 50 and len(second["results"]) == 13
    assert first["results"][0]["unique_id"] == "m59"
    times = [m["created_at"] for m in first["results"] + second["results"]]
    assert times == sorted(times, reverse=True)
    assert set(first["results"][0]) == {
        "created_at",
        "direction",
        "message_type",
        "action",
        "unique_id",
        "frame",
    }


def test_the_message_log_can_be_filtered_by_direction_and_action(api, data):
    client = api("staff")

    incoming = client.get("/api/stations/CP_1/messages/?direction=in").json()
    outgoing = client.get("/api/stations/CP_1/messages/?direction=out").json()
    boots = client.get("/api/stations/CP_1/messages/?action=BootNotification").json()

    assert [m["unique_id"] for m in incoming["results"]] == ["2", "0"]
    assert [m["unique_id"] for m in outgoing["results"]] == ["1"]
    assert boots["count"] == 0


def test_the_message_log_of_an_unknown_station_is_a_json_404(api, data):
    response = api("staff").get("/api/stations/NOPE/messages/")

    assert response.status_code == 404
    assert response.json() == {"error_code": 404, "message": "No such station: NOPE"}


def test_the_command_log_shows_who_sent_what_and_how_it_went(api, data):
    response = api("staff").get("/api/commands/?station_id=CP_1")

    [command] = response.json()["results"]
    assert command["requested_by"] == "operator"
    assert (command["action"], command["payload"], command["outcome"]) == (
        "Reset",
        {"type": "Immediate"},
        "answered",
    )
    assert command["response"] == {"status": "Accepted"} and command["duration_ms"] == 12.5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("outcome=not_connected", ["ClearCache"]),
        ("action=Reset", ["Reset"]),
        ("station_id=CP.2-b", ["ClearCache"]),
        ("station_id=NOPE", []),
    ],
)
def test_the_command_log_can_be_filtered(api, data, query, expected):
    response = api("staff").get(f"/api/commands/?{query}")

    assert [c["action"] for c in response.json()["results"]] == expected


# --- Error shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "url", "body", "expected"),
    [
        ("anonymous", "get", "/api/stations/", None, 401),
        ("driver", "post", "/api/stations/", NEW_STATION, 403),
        ("staff", "post", "/api/stations/", {"id": "CP:1"}, 400),
        ("staff", "get", "/api/stations/NOPE/", None, 404),
        ("staff", "get", "/api/transactions/999999/", None, 404),
        ("staff", "put", "/api/stations/CP_1/", {}, 405),
        ("staff", "delete", "/api/stations/CP_1/", None, 409),
        ("staff", "get", "/api/stations/?registration_status=Maybe", None, 400),
        ("staff", "get", "/api/id-tokens/?user=999999", None, 400),
    ],
)
def test_every_error_has_an_error_code_and_a_message(api, data, role, method, url, body, expected):
    response = getattr(api(role), method)(url, body, format="json")

    assert response.status_code == expected
    assert response.json()["error_code"] == expected
    assert isinstance(response.json()["message"], str) and response.json()["message"]


# --- Documentation and the browsable API --------------------------------------------------------


def test_the_openapi_schema_is_generated(api, data):
    response = api("staff").get("/api/schema/")

    assert response.status_code == 200
    body = response.content.decode()
    for path in [
        "/api/stations/{id}/",
        "/api/transactions/",
        "/api/id-tokens/",
        "/api/stations/{station_id}/messages/",
        "/api/commands/",
        "/api/cp_ids/",
        "/api/reservations/",
        "/api/stations/{station_id}/reserve/",
        "/api/stations/{station_id}/commands/{action}/",
    ]:
        assert path in body
    assert "password_hash" not in body


def test_the_openapi_schema_is_also_served_as_json(api, data):
    response = api("staff").get("/api/schema/?format=json")

    assert response.status_code == 200
    assert "/api/stations/" in json.loads(response.content)["paths"]


def test_the_swagger_ui_is_served_without_a_cdn(api, data):
    response = api("staff").get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "cdn.jsdelivr" not in body
    assert "drf_spectacular_sidecar/swagger-ui-dist" in body


def test_the_browsable_api_renders_for_a_signed_in_operator(users, data):
    client = APIClient()
    client.force_login(users["staff"])

    response = client.get("/api/stations/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"CP_1" in response.content
    assert PASSWORD.encode() not in response.content


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_need_a_signed_in_user(db, url):
    assert APIClient().get(url).status_code == 401


# --- Seed 001's list of connected stations, and the API root --------------------------------------


def test_cp_ids_lists_the_connected_stations_in_the_seeds_shape(api, data):
    response = api("driver").get("/api/cp_ids/")

    assert response.status_code == 200
    assert response.json() == {"cp_ids": ["CP_1", "CP_3"]}  # CP.2-b and CP_EMPTY are offline


def test_cp_ids_is_empty_when_nothing_is_connected(api, users):
    assert api("staff").get("/api/cp_ids/").json() == {"cp_ids": []}


async def test_cp_ids_follows_stations_connecting_and_going(transactional_db):
    """As the seed's list: a station that connects is in it, one that goes is not."""
    reader = await make_user("reader")
    for identity in ("CP_1", "SupperCharger42"):
        await Station.objects.acreate(id=identity)
    first, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    assert (await reader.get("/api/cp_ids/")).json() == {"cp_ids": ["CP_1"]}
    second, _, _ = await OcppTestClient.open("SupperCharger42", "2.0.1")
    assert (await reader.get("/api/cp_ids/")).json() == {"cp_ids": ["CP_1", "SupperCharger42"]}
    await first.close()
    assert (await reader.get("/api/cp_ids/")).json() == {"cp_ids": ["SupperCharger42"]}
    await second.close()


def test_the_api_root_lists_every_endpoint(api, data):
    response = api("staff").get("/api/")

    assert response.status_code == 200
    root = {name: url.removeprefix("http://testserver") for name, url in response.json().items()}
    assert root == {
        "stations": "/api/stations/",
        "station": "/api/stations/{id}/",
        "station-messages": "/api/stations/{id}/messages/",
        "station-reserve": "/api/stations/{id}/reserve/",
        "station-command": "/api/stations/{id}/commands/{Action}/",
        "station-rotate-key": "/api/stations/{id}/rotate-key/",
        "station-variables": "/api/stations/{id}/variables/",
        "station-reports": "/api/stations/{id}/reports/",
        "variable-changes": "/api/variable-changes/",
        "station-local-list": "/api/stations/{id}/local-list/",
        "station-local-list-sync": "/api/stations/{id}/local-list/sync/",
        "authorization-lists": "/api/authorization-lists/",
        "monitors": "/api/monitors/",
        "station-events": "/api/station-events/",
        "alerts": "/api/alerts/",
        "customer-requests": "/api/customer-requests/",
        "display-messages": "/api/display-messages/",
        "cp_ids": "/api/cp_ids/",
        "transactions": "/api/transactions/",
        "id-tokens": "/api/id-tokens/",
        "commands": "/api/commands/",
        "reservations": "/api/reservations/",
        "reservation-cancel": "/api/reservations/{id}/cancel/",
        "schema": "/api/schema/",
        "docs": "/api/docs/",
    }
    for name, url in root.items():  # every list answers (the per-object ones need an id)
        if "{" not in url:
            assert api("staff").get(url).status_code == 200, name


def test_the_api_root_is_browsable(users, data):
    client = APIClient()
    client.force_login(users["staff"])

    response = client.get("/api/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"/api/reservations/" in response.content and b"/api/cp_ids/" in response.content
