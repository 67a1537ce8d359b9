"""OCPP-J: the JSON-over-WebSocket RPC layer, shared by the CSMS (`stations`) and the `emulator`.

Nothing here touches Django, a socket or a database: frames go in as text and come out as text, like
python-websockets' protocol layer. The `ocpp` library provides the actions, the `@on` routing and the
official JSON schemas; this package adds what a server exposed to real stations needs on top: the
specification's error codes per version, compiled validation and correlation of outgoing CALLs.
"""

from ocppj.errors import CallErrorReceived, ErrorCode, OcppError
from ocppj.rpc import RpcEndpoint

V16 = "1.6"
V201 = "2.0.1"
VERSIONS = (V201, V16)
SUBPROTOCOLS = {"ocpp2.0.1": V201, "ocpp1.6": V16}

__all__ = [
    "SUBPROTOCOLS",
    "V16",
    "V201",
    "VERSIONS",
    "CallErrorReceived",
    "ErrorCode",
    "OcppError",
    "RpcEndpoint",
]
