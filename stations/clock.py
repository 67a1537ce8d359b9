"""Time as OCPP writes it."""

from __future__ import annotations

from datetime import UTC, datetime

from ocppj.schemas import parse_datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def ocpp_now() -> str:
    """Current time in RFC 3339 with milliseconds and a 'Z', as both versions expect."""
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ocpp_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ocpp_time(value: str | None) -> datetime | None:
    """A station's timestamp; a missing offset is read as UTC."""
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_required_ocpp_time(value: str) -> datetime:
    """A timestamp the message's schema requires: validated as a date-time before any handler
    runs, so it always parses (a missing offset is read as UTC)."""
    parsed = parse_ocpp_time(value)
    if parsed is None:
        raise ValueError(f"Not an OCPP date-time: {value!r}")
    return parsed
