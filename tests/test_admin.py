"""The operator admin: every page renders with real data, station-supplied text stays escaped,
passwords go in as hashes only, and station-reported records cannot be edited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from reservations.models import Reservation
from stations.admin import MessageLogAdmin
from stations.models import (
    Connector,
    IdToken,
    MessageLog,
    MeterSample,
    RegistrationStatus,
    Station,
    StationEvent,
    Transaction,
    TransactionEvent,
)
from stations.passwords import check_station_password, make_station_password

XSS = "<script>alert(1)</script>"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """The test settings run with DEBUG off, i.e. the manifest static storage, which fails on
    every admin page until `collectstatic` has run; these tests are about the pages, not assets."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def data(db, django_user_model):
    """One of everything, with station-supplied strings that would run as script if unescaped."""
    now = timezone.now()
    station = Station.objects.create(
        id="CP_1",
        password_hash=make_station_password(PASSWORD),
        protocol="2.0.1",
        vendor=XSS,
        model="Model X",
        serial_number="SN-1",
        boot_status=RegistrationStatus.ACCEPTED,
        last_boot_at=now,
        connected=True,
    )
    Connector.objects.create(station=station, evse_id=1, status="Available", info=XSS)
    user = django_user_model.objects.create_user("driver", password="irrelevant-password")
    group = IdToken.objects.create(token="GROUP")
    id_token = IdToken.objects.create(token="TAG1", parent=group, user=user)
    tx = Transaction.objects.create(
        station=station,
        evse_id=1,
        ocpp_id="tx-abc",
        id_token=id_token.token,
        started_at=now,
        energy_wh=1234.5,
    )
    TransactionEvent.objects.create(
        transaction=tx, seq_no=0, event_type="Started", trigger_reason="Authorized", timestamp=now
    )
    MeterSample.objects.create(
        station=station, transaction=tx, evse_id=1, timestamp=now, value=1234.5
    )
    log = MessageLog.objects.create(
        station_id="CP_1",
        direction=MessageLog.Direction.IN,
        message_type=2,
        action="BootNotification",
        unique_id="1",
        frame=f'[2,"1","BootNotification",{{"vendorName":"{XSS}"}}]' + "x" * 500,
        created_at=now,
    )
    event = StationEvent.objects.create(
        station_id="CP_1", kind=StationEvent.Kind.SECURITY, type="InvalidLogin", message=XSS
    )
    reservation = Reservation.objects.create(
        station=station,
        evse_id=1,
        id_token="TAG1",
        user=user,
        expires_at=now + timedelta(minutes=15),
    )
    return {
        "station": station,
        "idtoken": id_token,
        "transaction": tx,
        "messagelog": log,
        "stationevent": event,
        "reservation": reservation,
    }


PAGES = [
    ("stations", "station"),
    ("stations", "transaction"),
    ("stations", "idtoken"),
    ("stations", "messagelog"),
    ("stations", "stationevent"),
    ("reservations", "reservation"),
]


@pytest.mark.parametrize(("app", "model"), PAGES)
def test_every_changelist_renders_with_data(admin_client, data, app, model):
    response = admin_client.get(reverse(f"admin:{app}_{model}_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(("app", "model"), PAGES)
def test_every_change_page_renders_with_data(admin_client, data, app, model):
    obj = data[model]

    response = admin_client.get(reverse(f"admin:{app}_{model}_change", args=[obj.pk]))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:stations_station_changelist"),
        reverse("admin:stations_station_change", args=["CP_1"]),
        reverse("admin:stations_messagelog_changelist"),
        reverse("admin:stations_stationevent_changelist"),
    ],
)
def test_station_supplied_text_renders_escaped(admin_client, data, url):
    content = admin_client.get(url).content.decode()

    assert "&lt;script&gt;" in content
    assert XSS not in content


def test_the_station_page_does_not_show_the_password_hash(admin_client, data):
    content = admin_client.get(reverse("admin:stations_station_change", args=["CP_1"])).content

    assert data["station"].password_hash.encode() not in content
    assert b"Set (salted sha256)" in content


def test_the_message_log_list_shows_only_the_start_of_a_frame(data):
    model_admin = admin.site._registry[MessageLog]
    assert isinstance(model_admin, MessageLogAdmin)

    preview = model_admin.frame_preview(data["messagelog"])

    assert len(preview) == 121
    assert preview.endswith("…")


def test_adding_a_station_stores_only_a_hash_of_its_password(admin_client, db):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {"id": "CP_NEW", "password": PASSWORD, "registration_status": "Accepted"},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    station = Station.objects.get(pk="CP_NEW")
    assert station.password_hash.startswith("sha256$")
    assert PASSWORD not in station.password_hash
    assert check_station_password(PASSWORD.encode(), station.password_hash)


def test_adding_a_station_requires_a_password(admin_client, db):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {"id": "CP_NEW", "password": "", "registration_status": "Accepted"},
    )

    assert response.status_code == 200
    assert "password" in response.context["adminform"].form.errors
    assert not Station.objects.filter(pk="CP_NEW").exists()


def test_it_refuses_a_short_password_in_the_add_form(admin_client, db):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {"id": "CP_NEW", "password": "short", "registration_status": "Accepted"},
    )

    assert response.status_code == 200
    assert "password" in response.context["adminform"].form.errors
    assert b'value="short"' not in response.content
    assert not Station.objects.filter(pk="CP_NEW").exists()


def test_it_refuses_an_invalid_identity_in_the_add_form(admin_client, db):
    response = admin_client.post(
        reverse("admin:stations_station_add"),
        {"id": "CP:1", "password": PASSWORD, "registration_status": "Accepted"},
    )

    assert response.status_code == 200
    assert "id" in response.context["adminform"].form.errors


def test_editing_a_station_without_a_password_keeps_the_current_one(admin_client, data):
    old_hash = data["station"].password_hash

    response = admin_client.post(
        reverse("admin:stations_station_change", args=["CP_1"]),
        {
            "password": "",
            "registration_status": "Rejected",
            "connectors-TOTAL_FORMS": "1",
            "connectors-INITIAL_FORMS": "1",
            "connectors-MIN_NUM_FORMS": "0",
            "connectors-MAX_NUM_FORMS": "0",
        },
    )

    assert response.status_code == 302
    station = Station.objects.get(pk="CP_1")
    assert station.registration_status == "Rejected"
    assert station.password_hash == old_hash


def test_editing_a_station_with_a_password_replaces_the_hash(admin_client, data):
    new_password = "another-long-secret-key"

    response = admin_client.post(
        reverse("admin:stations_station_change", args=["CP_1"]),
        {
            "password": new_password,
            "registration_status": "Accepted",
            "connectors-TOTAL_FORMS": "1",
            "connectors-INITIAL_FORMS": "1",
            "connectors-MIN_NUM_FORMS": "0",
            "connectors-MAX_NUM_FORMS": "0",
        },
    )

    assert response.status_code == 302
    station = Station.objects.get(pk="CP_1")
    assert check_station_password(new_password.encode(), station.password_hash)
    assert not check_station_password(PASSWORD.encode(), station.password_hash)


def test_editing_a_station_leaves_what_it_reported_untouched(admin_client, data):
    admin_client.post(
        reverse("admin:stations_station_change", args=["CP_1"]),
        {
            "id": "CP_OTHER",
            "vendor": "Forged",
            "registration_status": "Accepted",
            "connectors-TOTAL_FORMS": "1",
            "connectors-INITIAL_FORMS": "1",
            "connectors-MIN_NUM_FORMS": "0",
            "connectors-MAX_NUM_FORMS": "0",
        },
    )

    station = Station.objects.get(pk="CP_1")
    assert station.vendor == XSS
    assert not Station.objects.filter(pk="CP_OTHER").exists()


@pytest.mark.parametrize("model", [MessageLog, StationEvent, Transaction])
def test_station_reported_records_cannot_be_added_or_changed(admin_user, model):
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)


@pytest.mark.parametrize("model", [MessageLog, StationEvent])
def test_logs_cannot_be_deleted_in_the_admin(admin_user, model):
    request = RequestFactory().get("/")
    request.user = admin_user

    assert not admin.site._registry[model].has_delete_permission(request)


def test_the_message_log_has_no_add_page(admin_client, db):
    response = admin_client.get(reverse("admin:stations_messagelog_add"))

    assert response.status_code == 403


def test_a_transaction_cannot_be_edited_through_a_post(admin_client, data):
    tx = data["transaction"]

    response = admin_client.post(
        reverse("admin:stations_transaction_change", args=[tx.pk]), {"energy_wh": "0"}
    )

    assert response.status_code == 403
    tx.refresh_from_db()
    assert tx.energy_wh == 1234.5


def test_the_transaction_list_shows_the_id_the_station_knows(admin_client, data):
    response = admin_client.get(reverse("admin:stations_transaction_changelist"))

    assert b"tx-abc" in response.content
