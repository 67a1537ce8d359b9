"""The CSMS side of OCPP: one handler class per protocol version over a shared session base."""

from stations.ocpp.base import StationSession
from stations.ocpp.v16 import StationSession16
from stations.ocpp.v201 import StationSession201

SESSIONS: dict[str, type[StationSession]] = {"1.6": StationSession16, "2.0.1": StationSession201}

__all__ = ["SESSIONS", "StationSession"]
