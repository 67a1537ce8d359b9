"""`manage.py register_station`: register a station, or change one, from a shell or a script.

With OCPP_AUTO_REGISTER off (production) a station must exist before it can connect. The password
is shown only when this command generates it, once: only its salted hash is stored, so a lost
password is replaced, never recovered.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction

from stations.identity import validate_identity
from stations.models import RegistrationStatus, Station
from stations.passwords import (
    generate_station_password,
    make_station_password,
    validate_station_password,
)


def _message(error: ValidationError) -> str:
    return " ".join(error.messages)


class Command(BaseCommand):
    help = (
        "Register a charging station (identity, Basic-auth password, registration status). "
        "With --update, change an existing station's given fields only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identity", help="The station identity (last segment of its URL).")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument(
            "--password",
            help="The station's Basic-auth password (16 to 64 characters). Beware: it stays in "
            "your shell history; --generate avoids that.",
        )
        secret.add_argument(
            "--generate",
            action="store_true",
            help="Generate a random password and print it, once.",
        )
        parser.add_argument(
            "--status",
            choices=RegistrationStatus.values,
            help="Registration status (default for a new station: Accepted).",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change an existing station instead of refusing to overwrite it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identity: str = options["identity"]
        update: bool = options["update"]
        status: str | None = options["status"]
        password: str | None = options["password"]
        generated: str | None = None

        try:
            validate_identity(identity)
        except ValidationError as exc:
            raise CommandError(f"Invalid identity {identity!r}: {_message(exc)}") from None
        if options["generate"]:
            password = generated = generate_station_password()
        if password is not None:
            try:
                validate_station_password(password)
            except ValidationError as exc:
                raise CommandError(f"Invalid password: {_message(exc)}") from None

        with transaction.atomic():
            station = Station.objects.select_for_update().filter(pk=identity).first()
            if station is None:
                if update:
                    raise CommandError(
                        f"Station {identity} does not exist; register it without --update."
                    )
                station = Station(
                    id=identity, registration_status=status or RegistrationStatus.ACCEPTED
                )
                changed = None
            else:
                if not update:
                    raise CommandError(
                        f"Station {identity} is already registered; pass --update to change it."
                    )
                changed = []
                if status is not None:
                    station.registration_status = status
                    changed.append("registration_status")
            if password is not None:
                station.password_hash = make_station_password(password)
                if changed is not None:
                    changed.append("password_hash")
            if changed is None:
                try:
                    station.save(force_insert=True)
                except IntegrityError:
                    # Registered concurrently (admin, auto-registration) since the lookup above.
                    raise CommandError(
                        f"Station {identity} is already registered; pass --update to change it."
                    ) from None
            elif changed:
                station.save(update_fields=changed)

        if generated is not None:
            # The only time this password is ever visible: nothing stores it in clear.
            self.stdout.write(f"Password (shown once, store it now): {generated}")
            self.stdout.write(
                "As OCPP 1.6 AuthorizationKey (ChangeConfiguration value): "
                f"{generated.encode().hex()}"
            )
        if not station.password_hash:
            self.stderr.write(
                self.style.WARNING(
                    f"{identity} has no password (Security Profile 0): it can connect only while "
                    "OCPP_REQUIRE_PASSWORD is off."
                )
            )
        verb = "Updated" if update else "Registered"
        secret_state = "password set" if station.password_hash else "no password"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {identity} ({station.registration_status}, {secret_state})")
        )
