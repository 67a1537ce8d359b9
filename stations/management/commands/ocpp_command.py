"""`manage.py ocpp_command`: send an OCPP command to stations from a shell, once or periodically.

Seed 003's periodic sender (`--command X --period S`, to every connected station) as a command of
its own, on the embedded defaults as in production. Two ways to reach the stations:

- **Through the server's REST API** (`--api`, the default when the channel layer is in-memory, as
  under `make run`): `POST /api/stations/<id>/commands/<Action>/` with a token. Without `--token`
  (or CSMS_API_TOKEN) the command takes, through the ORM, the token of a staff service user on the
  server's own database (`--user`, created on first use), so `make run` in one terminal and
  `manage.py ocpp_command CP_1 Reset` in another just works.
- **Through the channel layer** (`--layer`, the default with REDIS_URL): `send_payload`, like the
  API itself, to the worker holding the station's socket.

Without --payload each station's OCPP version picks a default payload (`command_defaults`; over the
API, `GET` on the command's URL answers it). Exit status 0 only when every send was accepted.

The async part runs through `async_to_sync`. Standalone, that makes a loop of its own, which the
command closes itself before it returns: its channel-layer pump is cancelled until it is gone (see
`csms_site.channel_layer.cancel_until_done`; `asyncio.run` cancels once, and on Python 3.11 redis-py
can lose that one cancellation, which hung the process after it had printed the answer). Called
from a thread under an async caller (a test holding the station's socket), it runs in the caller's
loop, the only one the in-memory channel layer can deliver to, and leaves that loop's layer alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from rest_framework.authtoken.models import Token

from stations.db import in_db_thread
from stations.models import Station
from stations.remote import verdict
from stations.remote.catalog import CSMS_ACTIONS, NoDefaultPayload, default_payload
from stations.remote.delivery import HOP_MARGIN_SECONDS, check_command, resolve
from stations.remote.forms import InputError
from stations.remote.operator import send_payload
from stations.remote.results import CommandRefused, CommandResult, Outcome

DEFAULT_API_URL = "http://127.0.0.1:8000"  # where `make run` serves
SERVICE_USER = "ocpp-command"
# With --timeout, the wait for an answer is the station's time plus this much for the hop(s): the
# answer comes within --timeout + this, or the send is reported as timed out.
REPLY_MARGIN_SECONDS = 1.0
# Sends in flight at once (--all with a large fleet); the rest wait their turn within the round.
MAX_CONCURRENT_SENDS = 32
NO_DEFAULT_HINT = "pass the payload with --payload"
IN_MEMORY_HINT = (
    "Hint: --layer with the in-memory channel layer (REDIS_URL is not set) reaches only stations "
    "connected to this very process; give the server and the command the same REDIS_URL, or use "
    "the server's API (the default without REDIS_URL)."
)


class Refused(Exception):
    """Nothing was sent to this station: unknown station or action, invalid payload, no default."""


def _positive(kind: type, name: str):
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0 or (kind is float and math.isinf(value)):
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


# --- the two ways to the stations ---------------------------------------------------------------


def _station_protocol(station_id: str) -> str | None:
    return Station.objects.filter(pk=station_id).values_list("protocol", flat=True).first()


def _connected_ids() -> list[str]:
    rows = Station.objects.filter(connected=True).order_by("id")
    return list(rows.values_list("id", flat=True))


class LayerTransport:
    """`send_payload` over the channel layer, with the ORM for everything else."""

    def __init__(self, timeout: float | None):
        self.timeout = timeout

    def __str__(self) -> str:
        return "the channel layer"

    async def connected(self) -> list[str]:
        return await in_db_thread(_connected_ids)()

    async def protocol(self, station_id: str) -> str | None:
        return await in_db_thread(_station_protocol)(station_id)

    async def default(self, station_id: str, action: str, protocol: str) -> dict[str, Any]:
        try:
            return await in_db_thread(default_payload)(action, protocol, station_id)
        except NoDefaultPayload as error:
            raise Refused(f"{error}: {NO_DEFAULT_HINT}") from None

    async def send(self, station_id: str, action: str, payload: dict[str, Any]) -> CommandResult:
        margin = REPLY_MARGIN_SECONDS if self.timeout else None
        try:
            where = await in_db_thread(resolve)(station_id, action, payload)
            result = await send_payload(
                where,
                action,
                payload,
                user=None,
                source="cli",
                timeout=self.timeout,
                margin=margin,
            )
        except CommandRefused as refused:
            message = refused.message
            if refused.valid_actions:
                message += ". Valid: " + ", ".join(refused.valid_actions)
            raise Refused(message) from None
        except InputError as error:
            raise Refused(str(error)) from None
        return result

    def hint(self, result: CommandResult) -> str | None:
        if result.outcome == Outcome.TIMEOUT and isinstance(
            get_channel_layer(), InMemoryChannelLayer
        ):
            return IN_MEMORY_HINT
        return None

    async def close(self) -> None:
        """Close the channel layer's connections and its receive pump (only in a loop of our own:
        in the caller's loop they belong to the caller)."""
        close_pools = getattr(get_channel_layer(), "close_pools", None)
        if close_pools is not None:
            async with asyncio.timeout(5):
                await close_pools()


class ApiTransport:
    """The server's REST API, with a DRF token. HTTP runs in daemon threads (urllib): one that
    is still waiting when the command ends can never hold the process back."""

    def __init__(self, base_url: str, token: str, timeout: float | None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        if timeout:  # the station's time, and the margin for the HTTP round trip and the hop
            self.http_timeout = timeout + REPLY_MARGIN_SECONDS
        else:  # the server's own wait: its call timeout plus its hop margin
            self.http_timeout = settings.OCPP_CALL_TIMEOUT + HOP_MARGIN_SECONDS + 1.0

    def __str__(self) -> str:
        return self.base_url

    def _url(self, *parts: str, query: dict[str, Any] | None = None) -> str:
        path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
        url = f"{self.base_url}/api/{path}/"
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    async def fetch(self, method: str, url: str, body: Any, timeout: float) -> tuple[int, bytes]:
        """One HTTP exchange: (status, body bytes). Raises TimeoutError, or OSError when the
        server cannot be reached."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()

        def settle(outcome: Any, error: BaseException | None) -> None:
            if answer.done():
                return
            if error is None:
                answer.set_result(outcome)
            else:
                answer.set_exception(error)

        def exchange() -> None:
            data = None if body is None else json.dumps(body).encode()
            http = urllib.request.Request(url, data=data, method=method)
            http.add_header("Authorization", f"Token {self.token}")
            http.add_header("Accept", "application/json")
            if data is not None:
                http.add_header("Content-Type", "application/json")
            outcome: Any = None
            error: BaseException | None = None
            try:
                with urllib.request.urlopen(http, timeout=timeout) as response:
                    outcome = (response.status, response.read())
            except urllib.error.HTTPError as refused:  # an answer all the same: 4xx, 5xx
                outcome = (refused.code, refused.read())
            except urllib.error.URLError as failure:
                reason = failure.reason
                error = reason if isinstance(reason, OSError) else OSError(str(reason))
            except (OSError, ValueError) as failure:  # TimeoutError is an OSError
                error = failure if isinstance(failure, OSError) else OSError(str(failure))
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(settle, outcome, error)

        threading.Thread(target=exchange, name=f"ocpp_command {method}", daemon=True).start()
        async with asyncio.timeout(timeout):  # urllib's bounds each socket operation, not the sum
            return await answer

    async def request(
        self, method: str, url: str, body: Any = None, *, timeout: float = 10.0
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, the JSON object answered). Raises CommandError when the server cannot be
        reached or refuses the token, TimeoutError when it does not answer within `timeout`."""
        try:
            status, raw = await self.fetch(method, url, body, timeout)
        except TimeoutError:
            raise
        except OSError as error:
            raise self._unreachable(error) from None
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        if status in (401, 403):
            message = decoded.get("message") if isinstance(decoded, dict) else None
            raise CommandError(
                f"The API at {self.base_url} refused the token (HTTP {status}): "
                f"{message or 'no message'}. Commands need a staff user's token."
            )
        if not isinstance(decoded, dict):
            raise CommandError(
                f"{url} answered HTTP {status} without a JSON object: is {self.base_url} the CSMS?"
            )
        return status, decoded

    def _unreachable(self, reason: Any) -> CommandError:
        return CommandError(
            f"Cannot reach the CSMS API at {self.base_url} ({reason}). Start the server "
            "(`make run`) or pass --api URL; with REDIS_URL set (the server's too), the command "
            "goes through the channel layer instead."
        )

    async def connected(self) -> list[str]:
        status, body = await self.request("GET", self._url("cp_ids"))
        if status != 200 or not isinstance(body.get("cp_ids"), list):
            raise CommandError(
                f"GET /api/cp_ids/ at {self.base_url} answered HTTP {status}: {body}"
            )
        return list(body["cp_ids"])

    async def protocol(self, station_id: str) -> str | None:
        status, body = await self.request("GET", self._url("stations", station_id))
        if status == 404:
            return None
        return body.get("protocol", "")

    async def default(self, station_id: str, action: str, protocol: str) -> dict[str, Any]:
        url = self._url("stations", station_id, "commands", action)
        status, body = await self.request("GET", url)
        if status == 200 and isinstance(body.get("payload"), dict):
            return body["payload"]
        if isinstance(body.get("no_default"), str):  # the API's reason, without its own hint
            raise Refused(f"{body['no_default']}: {NO_DEFAULT_HINT}")
        raise Refused(str(body.get("message", f"HTTP {status}")))

    async def send(self, station_id: str, action: str, payload: dict[str, Any]) -> CommandResult:
        query = {"timeout": self.timeout} if self.timeout else None
        url = self._url("stations", station_id, "commands", action, query=query)
        started = time.monotonic()
        try:
            status, body = await self.request("POST", url, payload, timeout=self.http_timeout)
        except TimeoutError:
            return CommandResult(
                Outcome.TIMEOUT,
                description=f"No answer from the API within {self.http_timeout:g} s",
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
        duration = round((time.monotonic() - started) * 1000, 1)  # the whole round trip
        if status == 200:  # the body is the station's payload, as it sent it
            return CommandResult(Outcome.ANSWERED, payload=body, duration_ms=duration)
        message = str(body.get("message", ""))
        if status == 503:
            return CommandResult(Outcome.NOT_CONNECTED, description=message)
        if status == 504:
            return CommandResult(Outcome.TIMEOUT, description=message, duration_ms=duration)
        if status == 502 and "ocpp_error_code" in body:
            return CommandResult(
                Outcome.CALL_ERROR,
                error_code=body["ocpp_error_code"],
                description=body.get("ocpp_error_description", ""),
                details=body.get("ocpp_error_details") or {},
                duration_ms=duration,
            )
        if status == 502:
            return CommandResult(
                Outcome.INVALID_RESPONSE,
                payload=body.get("station_payload"),
                description=message,
                duration_ms=duration,
            )
        valid = body.get("valid_actions")
        raise Refused(message + (". Valid: " + ", ".join(valid) if valid else ""))

    def hint(self, result: CommandResult) -> str | None:
        return None

    async def close(self) -> None:
        return None


def service_token(username: str) -> str:
    """The DRF token of staff user `username`, created (with no usable password) on first use;
    the ORM reaches the server's database when both run on the same settings."""
    try:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True}
        )
        if created:
            user.set_unusable_password()  # a service account: its token, never a login
            user.save(update_fields=["password"])
        if not (user.is_staff and user.is_active):
            raise CommandError(
                f"User {username!r} is not an active staff user, and commands are for "
                "operators: choose another with --user, or pass --token"
            )
        return Token.objects.get_or_create(user=user)[0].key
    except DatabaseError as error:
        raise CommandError(
            f"No API token: pass --token (or CSMS_API_TOKEN). Taking the token of {username!r} "
            f"needs the server's database, which failed: {error}"
        ) from None


# --- one run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    attempts: int = 0  # a station in a round: sent, or refused before sending
    sent: int = 0
    answered: int = 0  # with a CALLRESULT
    accepted: int = 0  # ... that accepts (see `stations.remote.verdict.judge`)
    rounds: int = 0
    stations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # why each other attempt was not accepted
    interrupted: bool = False


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


class Command(BaseCommand):
    help = (
        "Send an OCPP command to stations and print each answer: the named stations, or every "
        "connected one (--all); with --period, again and again (until --count rounds, or "
        "Ctrl-C). Without --payload each station gets a default payload for its OCPP version. "
        "Goes through the server's REST API (--api; the default without REDIS_URL) or the "
        "channel layer (--layer; the default with REDIS_URL). Exits non-zero unless every send "
        "was accepted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "targets",
            nargs="+",
            metavar="STATION ... ACTION",
            help="The station identities (none with --all), then the OCPP action, e.g. Reset, "
            "ClearCache, GetVariables.",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Every connected station (looked up again before each round).",
        )
        parser.add_argument(
            "--payload", help="The request payload as a JSON object (default: per action)."
        )
        parser.add_argument(
            "--period",
            type=_positive(float, "period"),
            help="Send every this many seconds (until --count rounds, or Ctrl-C).",
        )
        parser.add_argument(
            "--count",
            type=_positive(int, "count"),
            help="How many rounds (default: 1, or unlimited with --period).",
        )
        parser.add_argument(
            "--timeout",
            type=_positive(float, "timeout"),
            help="Seconds each station has to answer (default: OCPP_CALL_TIMEOUT); the command "
            f"waits at most {REPLY_MARGIN_SECONDS:g} s longer for the answer to reach it.",
        )
        way = parser.add_mutually_exclusive_group()
        way.add_argument(
            "--api",
            nargs="?",
            const="",
            metavar="URL",
            help="Through the server's REST API at URL (default: CSMS_API_URL, else "
            f"{DEFAULT_API_URL}). The default when the channel layer is in-memory.",
        )
        way.add_argument(
            "--layer",
            action="store_true",
            help="Through the channel layer (the server must share this REDIS_URL). The "
            "default when REDIS_URL is set.",
        )
        parser.add_argument(
            "--token",
            help="The API token of a staff user (default: CSMS_API_TOKEN, else the token of "
            "--user, taken from the database).",
        )
        parser.add_argument(
            "--user",
            default=SERVICE_USER,
            help=f"The staff user whose API token is used without --token (default "
            f"{SERVICE_USER!r}, created on first use without a password).",
        )

    # --- options ---------------------------------------------------------------------------------

    def _targets(self, options: dict[str, Any]) -> tuple[list[str] | None, str]:
        *stations, action = options["targets"]
        if options["all"] and stations:
            raise CommandError("Name stations or give --all, not both")
        if not options["all"] and not stations:
            raise CommandError("Name at least one station before the action, or give --all")
        return (None if options["all"] else list(dict.fromkeys(stations))), action

    def _transport(self, options: dict[str, Any]) -> LayerTransport | ApiTransport:
        timeout = options["timeout"]
        if options["layer"]:
            return LayerTransport(timeout)
        url = options["api"] or os.environ.get("CSMS_API_URL") or None
        token = options["token"] or os.environ.get("CSMS_API_TOKEN") or None
        explicit = options["api"] is not None or url is not None or token is not None
        if not explicit and not isinstance(get_channel_layer(), InMemoryChannelLayer):
            return LayerTransport(timeout)  # production: REDIS_URL, shared with the server
        return ApiTransport(
            url or DEFAULT_API_URL, token or service_token(options["user"]), timeout
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stations, action = self._targets(options)
        payload = None
        if options["payload"] is not None:
            try:
                payload = json.loads(options["payload"])
            except json.JSONDecodeError as error:
                raise CommandError(f"--payload is not valid JSON: {error}") from None
            if not isinstance(payload, dict):
                raise CommandError('--payload must be a JSON object, e.g. \'{"type": "Soft"}\'')
        rounds = options["count"] or (None if options["period"] else 1)
        transport = self._transport(options)
        if options["verbosity"] >= 2:
            self.stderr.write(f"Sending {action} through {transport}.")

        with Interrupts() as interrupts:
            report = async_to_sync(self.run)(
                transport,
                stations,
                action,
                payload,
                period=options["period"] or 0.0,
                rounds=rounds,
                interrupts=interrupts,
            )
        if report.interrupted:
            self.stderr.write(
                f"Interrupted after {report.sent} sent, {report.answered} answered, "
                f"{report.accepted} accepted."
            )
        if report.attempts > 1:
            self.stdout.write(
                f"{action}: {report.accepted} of {report.attempts} accepted "
                f"({len(report.stations)} station(s), {report.rounds} round(s))"
            )
        if report.failures:
            raise CommandError(self._summary(action, report))
        if report.attempts == 0:
            raise CommandError(f"{action} was sent to no station: none is connected")

    @staticmethod
    def _summary(action: str, report: Report) -> str:
        if report.attempts <= 1 and len(report.failures) == 1:
            return report.failures[0]
        shown = "; ".join(report.failures[:5])
        more = len(report.failures) - 5
        return (
            f"{len(report.failures)} of {report.attempts} {action} sends were not accepted: "
            f"{shown}" + (f"; and {more} more" if more > 0 else "")
        )

    # --- sending ---------------------------------------------------------------------------------

    async def run(
        self,
        transport: LayerTransport | ApiTransport,
        stations: list[str] | None,
        action: str,
        payload: dict[str, Any] | None,
        *,
        period: float,
        rounds: int | None,
        interrupts: Interrupts,
    ) -> Report:
        """Send round after round until done or interrupted; return what happened."""
        # A loop of our own (standalone) runs nothing but this task. What the run opened in it is
        # then closed before returning, so that `asyncio.run` has nothing left to wait for.
        owned = asyncio.all_tasks() == {asyncio.current_task()}
        report = Report()
        interrupts.watch(asyncio.current_task())
        in_flight: set[str] = set()
        try:
            await self._rounds(
                transport, report, in_flight, stations, action, payload, period, rounds
            )
        except asyncio.CancelledError:
            if not interrupts.pressed:
                raise
            report.interrupted = True
            for station_id in sorted(in_flight):  # abandoned sends were never answered
                report.sent += 1
                report.attempts += 1
                report.failures.append(f"{action} to {station_id} was interrupted")
        except Refused as refused:
            raise CommandError(str(refused)) from None
        finally:
            if owned:
                with contextlib.suppress(Exception):
                    await transport.close()
        return report

    async def _rounds(
        self,
        transport: LayerTransport | ApiTransport,
        report: Report,
        in_flight: set[str],
        stations: list[str] | None,
        action: str,
        payload: dict[str, Any] | None,
        period: float,
        rounds: int | None,
    ) -> None:
        protocols: dict[str, str] = {}
        skipped: set[str] = set()
        if stations is not None:
            # Named stations are all checked before anything is sent; a refusal ends the run.
            for station_id in stations:
                protocols[station_id] = await self._prepare(transport, station_id, action, payload)
        started = time.monotonic()
        limit = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        while rounds is None or report.rounds < rounds:
            if report.rounds:
                # Fixed rate: a slow round delays the next, it does not shift the rest.
                await asyncio.sleep(max(0.0, started + report.rounds * period - time.monotonic()))
            report.rounds += 1
            targets = stations if stations is not None else await transport.connected()
            if not targets:
                self.stderr.write(f"Round {report.rounds}: no station is connected.")
                continue
            for station_id in targets:
                if station_id in protocols or station_id in skipped:
                    continue
                try:  # --all: a station new to this run, checked once
                    protocols[station_id] = await self._prepare(
                        transport, station_id, action, payload
                    )
                except Refused as refused:
                    skipped.add(station_id)
                    report.attempts += 1
                    self._fail(report, station_id, f"skipped: {refused}")
            sends = [
                self._send_once(
                    transport, report, in_flight, limit, station_id, action, payload, protocols
                )
                for station_id in targets
                if station_id in protocols
            ]
            for outcome in await asyncio.gather(*sends, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _prepare(
        self,
        transport: LayerTransport | ApiTransport,
        station_id: str,
        action: str,
        payload: dict[str, Any] | None,
    ) -> str:
        """The station's OCPP version, once per run; Refused when nothing can be sent to it."""
        protocol = await transport.protocol(station_id)
        if protocol is None:
            raise Refused(f"No such station: {station_id}")
        if not protocol and payload is None:
            raise Refused(
                f"{station_id} has never connected, so its OCPP version is unknown: "
                "pass the payload with --payload"
            )
        if protocol and action not in CSMS_ACTIONS.get(protocol, ()):
            valid = ", ".join(CSMS_ACTIONS.get(protocol, ()))
            raise Refused(f"{action} is not a command of OCPP {protocol}. Valid: {valid}")
        if protocol and payload is not None:
            try:
                check_command(protocol, action, payload)
            except CommandRefused as refused:
                raise Refused(refused.message) from None
        return protocol

    def _fail(self, report: Report, station_id: str, why: str) -> None:
        report.stations.add(station_id)
        report.failures.append(why)
        self.stderr.write(f"{station_id}: {why}")

    async def _send_once(
        self,
        transport: LayerTransport | ApiTransport,
        report: Report,
        in_flight: set[str],
        limit: asyncio.Semaphore,
        station_id: str,
        action: str,
        payload: dict[str, Any] | None,
        protocols: dict[str, str],
    ) -> None:
        async with limit:
            report.stations.add(station_id)
            report.attempts += 1
            try:
                if payload is None:
                    # Per send: request ids must differ, and a stop follows the active transaction.
                    payload = await transport.default(station_id, action, protocols[station_id])
                self.stdout.write(f"{station_id} -> {action} {_json(payload)}")
                in_flight.add(station_id)  # left in when interrupted: `run` counts it
                result = await transport.send(station_id, action, payload)
            except Refused as refused:
                in_flight.discard(station_id)
                self._fail(report, station_id, str(refused))
                return
            in_flight.discard(station_id)
            report.sent += 1
            self.stdout.write(f"{station_id} {_describe(action, result)}")
            hint = transport.hint(result)
            if hint:
                self.stderr.write(hint)
            if result.outcome != Outcome.ANSWERED:
                what = result.outcome.replace("_", " ")
                report.failures.append(f"{action} to {station_id} was not answered ({what})")
                return
            report.answered += 1
            judged = verdict.judge(result, station_id, action, timeout=transport.timeout)
            if not judged.accepted:
                report.failures.append(
                    f"{action} to {station_id} was answered {judged.station_status}"
                )
                return
            report.accepted += 1
