"""What became of a command: the outcome of one CALL to a station, as every caller receives it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Outcome:
    ANSWERED = "answered"  # a CALLRESULT (which may still decline: see `verdict.judge`)
    CALL_ERROR = "call_error"
    INVALID_RESPONSE = "invalid_response"
    TIMEOUT = "timeout"
    NOT_CONNECTED = "not_connected"


@dataclass(frozen=True)
class CommandResult:
    outcome: str
    payload: dict[str, Any] | None = None
    error_code: str = ""
    description: str = ""
    details: Any = field(default_factory=dict)
    duration_ms: float = 0.0


class CommandRefused(Exception):
    """The command was not sent: no such station, an action its version does not have, or a
    payload that breaks the action's schema. Nothing reached the station, nothing was recorded.

    `code` says which: "unknown_station", "unknown" (action) or "invalid" (payload)."""

    def __init__(self, message: str, *, valid_actions: tuple[str, ...] = (), code: str = ""):
        super().__init__(message)
        self.message = message
        self.valid_actions = valid_actions
        self.code = code
