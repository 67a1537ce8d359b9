"""What a station identity may look like.

OCPP 2.0.1 Part 4 §3.1.1 / 1.6 whitepaper: the identity is the last path segment of the URL and the
Basic-auth username, so it must survive both: at most 48 characters, no ':' (the username/password
separator), and only URL-safe characters. We allow letters, digits and `-_.*~`... minus what breaks
Channels group names, so a group name can be derived from it without escaping.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

MAX_IDENTITY_LENGTH = 48
_IDENTITY = re.compile(r"^[A-Za-z0-9_.\-]{1,48}$")


def is_valid_identity(value: str) -> bool:
    return bool(_IDENTITY.match(value))


def validate_identity(value: str) -> None:
    if not is_valid_identity(value):
        raise ValidationError(
            "A station identity is 1 to 48 characters from A-Z, a-z, 0-9, '_', '-' and '.'."
        )


def station_group(identity: str) -> str:
    """The Channels group holding the live socket(s) of one station (any worker process)."""
    return f"station.{identity}"
