"""CALLERROR codes, spelled the way each protocol version spells them.

The `ocpp` library uses one spelling for both versions and swaps NotImplemented and NotSupported; here
the specifications win. OCPP-J 1.6 §4.2.3 and OCPP 2.0.1 Part 4 §4.3:

- NotImplemented: the action is not known by the receiver;
- NotSupported: the action is recognised but not supported by the receiver;
- 1.6 spells FormationViolation and OccurenceConstraintViolation, 2.0.1 FormatViolation and
  OccurrenceConstraintViolation; RpcFrameworkError and MessageTypeNotSupported exist only in 2.0.1.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Error codes by their OCPP 2.0.1 names; `wire()` gives the spelling of a version."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"

    def wire(self, version: str) -> str:
        if version == "1.6":
            return _WIRE_1_6.get(self, self.value)
        return self.value


_WIRE_1_6 = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    # 1.6 has no RPC-framework code: a frame that is not a valid RPC message does not conform to the
    # PDU structure, which 1.6 calls FormationViolation.
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "FormationViolation",
}

# Any spelling seen on the wire, from either version, back to the canonical code.
_FROM_WIRE = {code.value: code for code in ErrorCode} | {
    "FormationViolation": ErrorCode.FORMAT_VIOLATION,
    "OccurenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
}


def code_from_wire(text: str) -> ErrorCode | None:
    return _FROM_WIRE.get(text)


class OcppError(Exception):
    """An error that is answered to the peer as a CALLERROR."""

    def __init__(
        self, code: ErrorCode, description: str = "", details: dict[str, Any] | None = None
    ):
        super().__init__(f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


class CallErrorReceived(Exception):
    """The peer answered one of our CALLs with a CALLERROR."""

    def __init__(self, code: str, description: str, details: Any):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details


class InvalidResponse(Exception):
    """The peer's CALLRESULT does not match the action's response schema."""

    def __init__(self, error: OcppError, payload: Any):
        super().__init__(error.description)
        self.error = error
        self.payload = payload
