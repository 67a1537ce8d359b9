"""`manage.py register_station`: what it stores, what it shows once, and what it refuses."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stations.models import Station
from stations.passwords import check_station_password

PASSWORD = "correct-horse-battery"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("register_station", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_registers_a_station_with_a_hashed_password(db):
    out, _ = run("CP_1", "--password", PASSWORD)

    station = Station.objects.get(pk="CP_1")
    assert station.registration_status == "Accepted"
    assert station.password_hash.startswith("sha256$")
    assert check_station_password(PASSWORD.encode(), station.password_hash)
    assert "Registered CP_1 (Accepted, password set)" in out
    assert PASSWORD not in out
    assert station.password_hash not in out


def test_it_registers_a_station_with_the_given_status(db):
    out, _ = run("CP_1", "--password", PASSWORD, "--status", "Pending")

    assert Station.objects.get(pk="CP_1").registration_status == "Pending"
    assert "Registered CP_1 (Pending, password set)" in out


def test_it_prints_a_generated_password_once_with_its_hex_form(db):
    out, _ = run("CP_1", "--generate")

    station = Station.objects.get(pk="CP_1")
    password = next(
        line.rsplit(": ", 1)[1] for line in out.splitlines() if line.startswith("Password")
    )
    assert check_station_password(password.encode(), station.password_hash)
    assert out.count(password) == 1
    assert password.encode().hex() in out
    assert 16 <= len(password) <= 20
    assert station.password_hash not in out


def test_it_warns_when_a_station_is_registered_without_a_password(db):
    out, err = run("CP_1")

    assert Station.objects.get(pk="CP_1").password_hash == ""
    assert "OCPP_REQUIRE_PASSWORD" in err
    assert "Registered CP_1 (Accepted, no password)" in out


def test_it_refuses_to_overwrite_an_existing_station_without_update(db):
    run("CP_1", "--password", PASSWORD)
    old_hash = Station.objects.get(pk="CP_1").password_hash

    with pytest.raises(CommandError, match=r"already registered.*--update"):
        run("CP_1", "--password", "another-long-secret-key", "--status", "Rejected")

    station = Station.objects.get(pk="CP_1")
    assert station.password_hash == old_hash
    assert station.registration_status == "Accepted"


def test_update_changes_only_the_given_fields(db):
    run("CP_1", "--password", PASSWORD)
    Station.objects.filter(pk="CP_1").update(vendor="ACME")

    out, _ = run("CP_1", "--update", "--status", "Rejected")

    station = Station.objects.get(pk="CP_1")
    assert station.registration_status == "Rejected"
    assert check_station_password(PASSWORD.encode(), station.password_hash)
    assert station.vendor == "ACME"
    assert "Updated CP_1 (Rejected, password set)" in out
    assert station.password_hash not in out


def test_update_replaces_the_password_and_keeps_the_status(db):
    run("CP_1", "--password", PASSWORD, "--status", "Pending")

    run("CP_1", "--update", "--password", "another-long-secret-key")

    station = Station.objects.get(pk="CP_1")
    assert station.registration_status == "Pending"
    assert check_station_password(b"another-long-secret-key", station.password_hash)
    assert not check_station_password(PASSWORD.encode(), station.password_hash)


def test_update_refuses_a_station_that_does_not_exist(db):
    with pytest.raises(CommandError, match="does not exist"):
        run("CP_1", "--update", "--status", "Rejected")

    assert not Station.objects.exists()


@pytest.mark.parametrize("identity", ["CP:1", "CP 1", "", "x" * 49, "CP/1"])
def test_it_refuses_an_invalid_identity(db, identity):
    with pytest.raises(CommandError, match="Invalid identity"):
        run(identity, "--password", PASSWORD)

    assert not Station.objects.exists()


def test_it_refuses_a_short_password(db):
    with pytest.raises(CommandError, match="Invalid password"):
        run("CP_1", "--password", "short")

    assert not Station.objects.exists()


def test_it_refuses_a_password_longer_than_64_characters(db):
    with pytest.raises(CommandError, match="Invalid password"):
        run("CP_1", "--password", "x" * 65)


def test_it_refuses_an_unknown_status(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("CP_1", "--status", "Maybe")


def test_it_refuses_both_a_password_and_generate(db):
    with pytest.raises(CommandError, match="not allowed with"):
        run("CP_1", "--password", PASSWORD, "--generate")
