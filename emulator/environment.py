"""The emulator's environment variables, named as seed 004's client names them.

`emulate` reads them as defaults; a flag on the command line always wins.

| variable            | default     | flag it stands for               |
|---------------------|-------------|----------------------------------|
| `CS_PROTOCOL`       | `ws`        | the scheme of `--url` (`ws`/`wss`) |
| `CS_HOST`           | `127.0.0.1` | the host of `--url`              |
| `CS_PORT`           | `8000`      | the port of `--url`              |
| `CS_PATH`           | `/ocpp/`    | the path of `--url`              |
| `CONCURRENCY_LEVEL` | unset       | `--count` when no station is named |
| `LOG_PAYLOAD`       | off         | `--log-payload`                  |
| `LOG_LIFECYCLE`     | off         | `--log-lifecycle`                |
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvironmentError_(ValueError):
    """A variable that cannot be read; the message names it."""


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EnvironmentError_(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")


@dataclass(frozen=True)
class Environment:
    url: str
    count: int | None
    log_payload: bool
    log_lifecycle: bool


def read_environment(environ: Mapping[str, str] = os.environ) -> Environment:
    scheme = environ.get("CS_PROTOCOL", "ws").strip().lower() or "ws"
    if scheme not in ("ws", "wss"):
        raise EnvironmentError_(f"CS_PROTOCOL must be ws or wss, got {scheme!r}")
    host = environ.get("CS_HOST", "").strip() or "127.0.0.1"
    port = environ.get("CS_PORT", "").strip() or "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise EnvironmentError_(f"CS_PORT must be a port number, got {port!r}")
    path = "/" + (environ.get("CS_PATH", "").strip().strip("/") or "ocpp") + "/"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    count_text = environ.get("CONCURRENCY_LEVEL", "").strip()
    if count_text and (not count_text.isdigit() or int(count_text) < 1):
        raise EnvironmentError_(f"CONCURRENCY_LEVEL must be a positive number, got {count_text!r}")
    return Environment(
        url=f"{scheme}://{host}:{port}{path}",
        count=int(count_text) if count_text else None,
        log_payload=_flag(environ, "LOG_PAYLOAD"),
        log_lifecycle=_flag(environ, "LOG_LIFECYCLE"),
    )


class PingPongOnly(logging.Filter):
    """Passes websockets' debug lines for PING and PONG frames only, reworded per station:
    `> PING` is a ping we sent, `< PONG` its answer, `< PING` the CSMS's ping, `> PONG` ours."""

    _WORDS = {
        "> PING": "ping sent",
        "< PONG": "pong received",
        "< PING": "ping received from the CSMS",
        "> PONG": "pong sent",
    }

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for prefix, words in self._WORDS.items():
            if text.startswith(prefix):
                record.msg = "%s: %s"
                record.args = (getattr(record, "station", "?"), words)
                record.levelno, record.levelname = logging.INFO, "INFO"
                return True
        return False
