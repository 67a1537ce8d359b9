"""Structured logs: `LOG_FORMAT=json` gives every log handler this formatter (settings.LOGGING).

One JSON object per line, for log shippers (Loki, Elasticsearch, CloudWatch, `docker logs | jq`):

    {"time": "2026-11-21T18:23:00.554Z", "level": "INFO", "logger": "csms.connections",
     "message": "Client connected: CP_1 (OCPP 2.0.1, 10.0.0.7)", "station": "CP_1"}

- `time` is ISO 8601 in UTC with milliseconds; `message` is the formatted message, newlines and all
  (JSON escapes them, so a record stays on one line);
- `exc_info` (the formatted traceback) and `stack_info` when the record has them;
- the record's `extra` fields whose values are JSON-serializable; others are left out, as are
  fields whose name says they hold a credential (password, secret, token, authorization, cookie).
  The formatter adds nothing else: what a message says is up to the code that logs it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has: not `extra` fields.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}
_SENSITIVE = ("password", "passwd", "secret", "token", "authorization", "cookie", "api_key")


def _serializable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if (
                key in _RECORD_ATTRIBUTES
                or key in entry
                or key.startswith("_")
                or any(word in key.lower() for word in _SENSITIVE)
                or not _serializable(value)
            ):
                continue
            entry[key] = value
        return json.dumps(entry, ensure_ascii=False)
