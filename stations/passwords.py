"""Station passwords (the Basic-auth secret of Security Profiles 1 and 2).

Django's user-password hashers are deliberately slow (PBKDF2, ~250 ms a check) to protect short human
passwords against guessing. A station key is not a human password: it is a random secret of at least
16 characters (2.0.1: 16-64 characters; 1.6 whitepaper: an AuthorizationKey of 16-20 random bytes).
Against a secret with that much entropy, a slow hash adds nothing: nobody can enumerate 2^96+ guesses
however fast each one is. So keys are stored as salted SHA-256, which costs about a microsecond to
check, and a reconnect storm of thousands of stations is not queued behind the hasher. Comparison is in
constant time; the plaintext is never stored or logged. Keys shorter than 16 characters are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError

ALGORITHM = "sha256"
MIN_LENGTH = 16
MAX_LENGTH = 64


def validate_station_password(raw: str) -> None:
    if not MIN_LENGTH <= len(raw.encode()) <= MAX_LENGTH:
        raise ValidationError(
            f"A station password is {MIN_LENGTH} to {MAX_LENGTH} characters (OCPP 2.0.1 A00.FR.205; "
            "1.6 stations take 16 to 20 bytes as AuthorizationKey)."
        )


def make_station_password(raw: str | bytes) -> str:
    """Encode `raw` as `sha256$<salt>$<digest>`."""
    secret = raw.encode() if isinstance(raw, str) else raw
    salt = secrets.token_hex(16)
    return f"{ALGORITHM}${salt}${_digest(salt, secret)}"


def check_station_password(raw: bytes, encoded: str) -> bool:
    try:
        algorithm, salt, digest = encoded.split("$", 2)
    except ValueError:
        return False
    if algorithm != ALGORITHM:
        return False
    return hmac.compare_digest(_digest(salt, raw), digest)


def generate_station_password() -> str:
    """A fresh key: 20 characters of URL-safe randomness, valid for both protocol versions."""
    return secrets.token_urlsafe(15)


def _digest(salt: str, secret: bytes) -> str:
    return hashlib.sha256(salt.encode() + b"$" + secret).hexdigest()


@dataclass(frozen=True)
class Malformed:
    """An `Authorization` header that is there but is not `Basic base64(username:password)`."""

    reason: str


def parse_basic_authorization(header: bytes | None) -> tuple[str, bytes] | Malformed | None:
    """Username and password bytes from an `Authorization: Basic ...` header; None without a header
    (or an empty one); `Malformed` for anything else: another scheme, not base64, no ':', a
    username that is not UTF-8. A station that sends a header means to authenticate, so a header
    we cannot read is refused like a wrong password (401), never taken for no credentials."""
    if not header or not header.strip():
        return None
    scheme, _, encoded = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return Malformed("not the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Malformed("not base64")
    username, sep, password = decoded.partition(b":")
    if not sep:
        return Malformed("no ':' between username and password")
    try:
        return username.decode(), password
    except UnicodeDecodeError:
        return Malformed("username is not UTF-8")
