"""Structured logs: the JSON formatter, and LOG_FORMAT switching every handler to it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime

from csms_site.logging import JsonFormatter
from tests.servers import ROOT


def record(message: str, *args, exc_info=None, **extra) -> logging.LogRecord:
    made = logging.getLogger("csms.test").makeRecord(
        "csms.test", logging.WARNING, __file__, 1, message, args, exc_info, extra=extra
    )
    made.created = 1_795_000_000.25  # 2026-11-18T11:06:40.250Z
    return made


def test_one_json_object_per_line_with_the_fields():
    line = JsonFormatter().format(record("station %s said\n%s", "CP_1", "two lines"))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-18T11:06:40.250Z",
        "level": "WARNING",
        "logger": "csms.test",
        "message": "station CP_1 said\ntwo lines",
    }
    offset = datetime.fromisoformat(json.loads(line)["time"]).utcoffset()
    assert offset is not None and offset.total_seconds() == 0


def test_exception_text():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(record("failed", exc_info=sys.exc_info()))
    entry = json.loads(line)
    assert entry["message"] == "failed"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].endswith("ValueError: boom")


def test_serializable_extra_fields_only_and_no_credentials():
    line = JsonFormatter().format(
        record(
            "hello",
            station="CP_1",
            evse={"id": 1, "connectors": [1, 2]},
            duration_ms=12.5,
            request=object(),  # Django's request logging passes the request: left out
            password="hunter2-hunter2",
            authorization="Basic Q1BfMTpzZWNyZXQ=",
            api_token="0123456789abcdef",
        )
    )
    entry = json.loads(line)
    assert {k: entry[k] for k in ("station", "evse", "duration_ms")} == {
        "station": "CP_1",
        "evse": {"id": 1, "connectors": [1, 2]},
        "duration_ms": 12.5,
    }
    assert set(entry) == {"time", "level", "logger", "message", "station", "evse", "duration_ms"}
    for secret in ("hunter2", "Q1BfMTpzZWNyZXQ", "0123456789abcdef"):
        assert secret not in line


def log_with(uvicorn_level: str = "INFO", **env: str) -> subprocess.CompletedProcess:
    """Configure Django's logging from the settings in a fresh process and log two records."""
    code = (
        # uvicorn sets its loggers' level from --log-level before the application loads Django.
        "import django, logging; logging.getLogger('uvicorn').setLevel(logging.INFO); "
        f"logging.getLogger('uvicorn.error').setLevel(logging.{uvicorn_level}); "
        "django.setup(); "
        "log = logging.getLogger('csms.connections'); "
        "log.info('Client connected: %s', 'CP_1', extra={'station': 'CP_1'}); "
        "logging.getLogger('uvicorn.error').info('Uvicorn running on http://127.0.0.1:8000')"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "csms_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_json_switches_every_handler():
    result = log_with(LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("csms.connections", "Client connected: CP_1"),
        ("uvicorn.error", "Uvicorn running on http://127.0.0.1:8000"),
    ]
    assert entries[0]["station"] == "CP_1" and entries[0]["level"] == "INFO"


def test_plain_is_the_default():
    result = log_with(LOG_FORMAT="")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(" INFO csms.connections - Client connected: CP_1")
    assert not lines[0].startswith("{")


def test_an_unknown_log_format_is_refused():
    result = log_with(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json, not 'xml'" in result.stderr


def test_uvicorns_log_level_survives_django_logging():
    """`uvicorn --log-level warning` must keep meaning it once Django configures logging."""
    result = log_with(uvicorn_level="WARNING", LOG_FORMAT="plain")
    assert result.returncode == 0, result.stderr
    assert "Client connected" in result.stderr
    assert "Uvicorn running on" not in result.stderr
