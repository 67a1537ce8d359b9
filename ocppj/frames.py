"""Parsing and writing OCPP-J frames, with the specification's answer to every malformed one.

| fault                                   | 1.6 answer                      | 2.0.1 answer                   |
|-----------------------------------------|---------------------------------|--------------------------------|
| not JSON, not an array, no type number  | CALLERROR "-1" FormationViolation | CALLERROR "-1" RpcFrameworkError |
| CALL id missing, not a string, > 36 chars | CALLERROR "-1" FormationViolation | CALLERROR "-1" RpcFrameworkError |
| unknown message type number             | ignored (§4.1.3), logged        | CALLERROR MessageTypeNotSupported |
| CALL with a wrong element count         | CALLERROR FormationViolation    | CALLERROR RpcFrameworkError    |
| CALL action not a string                | CALLERROR FormationViolation    | CALLERROR RpcFrameworkError    |
| CALL payload not an object              | CALLERROR FormationViolation    | CALLERROR FormatViolation      |
| malformed CALLRESULT / CALLERROR        | ignored, logged (no answer to an answer) | same                  |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from ocppj.errors import ErrorCode

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_ID_LENGTH = 36
UNREADABLE_ID = "-1"


@dataclass(slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: Any


Frame = Call | CallResult | CallError


class FrameError(Exception):
    """A frame that cannot be routed. `reply_id` is None when the rule is to stay silent."""

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        reply_id: str | None,
        *,
        silent_in_1_6: bool = False,
        message_type: int | None = None,
    ):
        super().__init__(description)
        self.code = code
        self.description = description
        self.reply_id = reply_id
        self.silent_in_1_6 = silent_in_1_6
        self.message_type = message_type

    def reply_for(self, version: str) -> str | None:
        if self.reply_id is None or (self.silent_in_1_6 and version == "1.6"):
            return None
        return self.reply_id


def _valid_id(value: Any) -> TypeGuard[str]:
    return type(value) is str and 0 < len(value) <= MAX_ID_LENGTH


def parse(text: str | bytes) -> Frame:
    """Turn one text frame into a Call, CallResult or CallError, or raise FrameError."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "Frame is not valid JSON", UNREADABLE_ID
        ) from None
    if type(message) is not list or not message:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "Frame is not a non-empty JSON array", UNREADABLE_ID
        )
    type_id = message[0]
    unique_id = message[1] if len(message) > 1 else None
    if type(type_id) is not int:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "MessageTypeId is not an integer", UNREADABLE_ID
        )

    if type_id == CALL:
        if not _valid_id(unique_id):
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                f"MessageId must be a string of 1 to {MAX_ID_LENGTH} characters",
                UNREADABLE_ID,
                message_type=CALL,
            )
        if len(message) != 4:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                f"A CALL has 4 elements, this frame has {len(message)}",
                unique_id,
                message_type=CALL,
            )
        action, payload = message[2], message[3]
        if type(action) is not str:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                "Action is not a string",
                unique_id,
                message_type=CALL,
            )
        if type(payload) is not dict:
            raise FrameError(
                ErrorCode.FORMAT_VIOLATION,
                "Payload is not a JSON object",
                unique_id,
                message_type=CALL,
            )
        return Call(unique_id, action, payload)

    if type_id == CALLRESULT:
        if not _valid_id(unique_id) or len(message) != 3 or type(message[2]) is not dict:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR, "Malformed CALLRESULT", None, message_type=CALLRESULT
            )
        return CallResult(unique_id, message[2])

    if type_id == CALLERROR:
        # Peers often drop the description or details; an error frame is accepted with at least
        # an id and a code so the CALL it answers does not hang until its timeout.
        if not _valid_id(unique_id) or len(message) < 3 or type(message[2]) is not str:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR, "Malformed CALLERROR", None, message_type=CALLERROR
            )
        description = message[3] if len(message) > 3 and type(message[3]) is str else ""
        details = message[4] if len(message) > 4 else {}
        return CallError(unique_id, message[2], description, details)

    raise FrameError(
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
        f"MessageTypeId {type_id} is not supported",
        unique_id if _valid_id(unique_id) else UNREADABLE_ID,
        silent_in_1_6=True,
        message_type=type_id,
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return dumps([CALL, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    return dumps([CALLRESULT, unique_id, payload])


def encode_error(
    unique_id: str, code: ErrorCode, description: str, details: Any, version: str
) -> str:
    # 2.0.1 Part 4 §4.2.3 caps the description at 255 characters.
    return dumps([CALLERROR, unique_id, code.wire(version), description[:255], details or {}])
