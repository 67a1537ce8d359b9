"""`manage.py ocpp_command`: send an OCPP command to a station from a shell, once or periodically.

It goes through `send_command` like the API, so it reaches a station on any worker process when the
channel layer is Redis (REDIS_URL); with the in-memory layer only the server process itself can.
Without --payload the station's OCPP version picks a default payload (`command_defaults`).

The async work runs through `async_to_sync`: standalone, that makes a loop of its own; called from a
thread under an async caller (a test holding the station's socket), it runs in the caller's loop,
the only one the in-memory channel layer can deliver to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError, CommandParser

from stations.command_defaults import default_payload
from stations.commands import (
    CSMS_ACTIONS,
    CommandRefused,
    CommandResult,
    Outcome,
    check_command,
    send_command,
)
from stations.db import in_db_thread
from stations.models import Station

IN_MEMORY_HINT = (
    "Hint: the channel layer is in-memory (REDIS_URL is not set), so a command from a separate "
    "process cannot reach a station connected to the server; give both the same REDIS_URL."
)


def _positive(kind: type, name: str):
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be positive, not {text}")
        return value

    return parse


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _describe(action: str, result: CommandResult) -> str:
    if result.outcome == Outcome.ANSWERED:
        return f"<- {action} {_json(result.payload)} ({result.duration_ms} ms)"
    if result.outcome == Outcome.CALL_ERROR:
        return (
            f"<- {action} CALLERROR {result.error_code}: {result.description} "
            f"({result.duration_ms} ms)"
        )
    if result.outcome == Outcome.INVALID_RESPONSE:
        return f"<- {action} invalid response {_json(result.payload)}: {result.description}"
    if result.outcome == Outcome.NOT_CONNECTED:
        return f"<- {action} not connected"
    if result.outcome == Outcome.TIMEOUT:
        return f"<- {action} timeout: {result.description} ({result.duration_ms} ms)"
    return f"<- {action} {result.outcome.replace('_', ' ')}: {result.description}"


class Interrupts:
    """Ctrl-C as a clean stop. The loop may run in a thread `async_to_sync` made, where a
    KeyboardInterrupt raised in the main thread would leave it running and the process hanging at
    exit; so SIGINT cancels the sending task instead, and `run` returns what was done so far.
    Outside the main thread (under a test) signals cannot be handled and nothing is installed."""

    def __init__(self) -> None:
        self.pressed = False
        self._task: asyncio.Task | None = None
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def watch(self, task: asyncio.Task | None) -> None:
        self._task = task
        if self.pressed and task is not None:
            task.cancel()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.pressed = True
        task = self._task
        if task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                task.get_loop().call_soon_threadsafe(task.cancel)


def _station_protocol(station_id: str) -> str | None:
    return Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()


class Command(BaseCommand):
    help = (
        "Send an OCPP command to a connected station and print its answer; with --period, repeat "
        "it (until --count sends, or Ctrl-C). Without --payload a default payload for the "
        "station's OCPP version is used. Exits non-zero unless the last send was answered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("station", help="The station identity.")
        parser.add_argument("action", help="The OCPP action, e.g. Reset, ClearCache, GetVariables.")
        parser.add_argument(
            "--payload", help="The request payload as a JSON object (default: per action)."
        )
        parser.add_argument(
            "--period",
            type=_positive(float, "period"),
            help="Send every this many seconds (until --count sends, or Ctrl-C).",
        )
        parser.add_argument(
            "--count",
            type=_positive(int, "count"),
            help="How many sends (default: 1, or unlimited with --period).",
        )
        parser.add_argument(
            "--timeout",
            type=_positive(float, "timeout"),
            help="Seconds to wait for the station's answer (default: OCPP_CALL_TIMEOUT).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        payload = None
        if options["payload"] is not None:
            try:
                payload = json.loads(options["payload"])
            except json.JSONDecodeError as error:
                raise CommandError(f"--payload is not valid JSON: {error}") from None
            if not isinstance(payload, dict):
                raise CommandError('--payload must be a JSON object, e.g. \'{"type": "Soft"}\'')
        count = options["count"] or (None if options["period"] else 1)

        with Interrupts() as interrupts:
            sent, answered, last = async_to_sync(self.run)(
                options["station"],
                options["action"],
                payload,
                period=options["period"] or 0.0,
                count=count,
                timeout=options["timeout"],
                interrupts=interrupts,
            )
        if interrupts.pressed:
            self.stderr.write(f"Interrupted after {sent} sent, {answered} answered.")
        if last != Outcome.ANSWERED:
            what = (last or "interrupted").replace("_", " ")
            summary = f"{options['action']} to {options['station']} was not answered ({what})"
            if sent > 1:
                summary += f"; {answered} of {sent} sends answered"
            raise CommandError(summary)

    async def run(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any] | None,
        *,
        period: float,
        count: int | None,
        timeout: float | None,
        interrupts: Interrupts,
    ) -> tuple[int, int, str | None]:
        """Send until done or interrupted; return (sent, answered, last outcome or None)."""
        sent = answered = 0
        last: str | None = None
        in_flight = False
        interrupts.watch(asyncio.current_task())
        try:
            protocol = await in_db_thread(_station_protocol)(station_id)
            if protocol is None:
                raise CommandError(f"No such station: {station_id}")
            if not protocol and payload is None:
                raise CommandError(
                    f"{station_id} has never connected, so its OCPP version is unknown: "
                    "pass the payload with --payload"
                )
            if protocol and action not in CSMS_ACTIONS.get(protocol, ()):
                valid = ", ".join(CSMS_ACTIONS.get(protocol, ()))
                raise CommandError(f"{action} is not a command of OCPP {protocol}. Valid: {valid}")
            started = time.monotonic()
            while count is None or sent < count:
                if sent:
                    # Fixed rate: a slow answer delays the next send, it does not shift the rest.
                    await asyncio.sleep(max(0.0, started + sent * period - time.monotonic()))
                in_flight = True
                result = await self._send_once(station_id, action, payload, protocol, timeout)
                in_flight = False
                sent += 1
                last = result.outcome
                answered += result.outcome == Outcome.ANSWERED
        except asyncio.CancelledError:
            if not interrupts.pressed:
                raise
            if in_flight:
                # The abandoned send was never answered, so it is the last outcome.
                sent, last = sent + 1, None
        return sent, answered, last

    async def _send_once(
        self,
        station_id: str,
        action: str,
        payload: dict[str, Any] | None,
        protocol: str,
        timeout: float | None,
    ) -> CommandResult:
        if payload is None:
            try:
                # Per send: request ids must differ, and a stop follows the active transaction.
                payload = await in_db_thread(default_payload)(action, protocol, station_id)
            except ValueError as error:
                raise CommandError(str(error)) from None
        try:
            if protocol:
                check_command(protocol, action, payload)
            self.stdout.write(f"-> {action} {_json(payload)}")
            result = await send_command(station_id, action, payload, timeout=timeout, source="cli")
        except CommandRefused as refused:
            message = refused.message
            if refused.valid_actions:
                message += ". Valid: " + ", ".join(refused.valid_actions)
            raise CommandError(message) from None
        self.stdout.write(_describe(action, result))
        if result.outcome == Outcome.TIMEOUT and isinstance(
            get_channel_layer(), InMemoryChannelLayer
        ):
            self.stderr.write(IN_MEMORY_HINT)
        return result
