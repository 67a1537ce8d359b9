"""`manage.py emulate CP_1 [CP_2 ...]`: play one or many charge points against any OCPP CSMS.

The command only reads options and wires them up; the station lives in `emulator.station`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from emulator.environment import EnvironmentError_, PingPongOnly, read_environment
from emulator.fleet import Fleet
from emulator.station import EmulatedStation, StationOptions


def _chosen(flag: bool | None, from_environment: bool) -> bool:
    """A flag given on the command line wins over the environment."""
    return from_environment if flag is None else flag


def parse_session(text: str) -> tuple[int, str, float]:
    try:
        connector, tag, seconds = text.split(":")
        return int(connector), tag, float(seconds)
    except ValueError:
        raise ValueError(f"--session takes CONNECTOR:TAG:SECONDS, got {text!r}") from None


class Command(BaseCommand):
    help = "Emulate OCPP 1.6J or 2.0.1 charge points (one, several, or a fleet with --count)."
    # A station, not the CSMS: it needs neither the CSMS's database nor its secrets.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("identities", nargs="*", help="Station identities, e.g. CP_1 CP_2.")
        parser.add_argument(
            "--url",
            help="CSMS base URL (default: from CS_PROTOCOL, CS_HOST, CS_PORT: ws://127.0.0.1:8000/ocpp/).",
        )
        parser.add_argument("--protocol", choices=["1.6", "2.0.1"], default="2.0.1")
        parser.add_argument("--password", help="Basic-auth password (Security Profile 1).")
        parser.add_argument(
            "--ca-file", help="wss://: trust this CA certificate (PEM) instead of the system's."
        )
        parser.add_argument(
            "--cert-file",
            help="wss://: this client certificate (PEM; security profile 3, its CN the identity). "
            "With --count, a file name containing {identity} is filled per station.",
        )
        parser.add_argument(
            "--key-file", help="The client certificate's key (PEM); {identity} too."
        )
        parser.add_argument("--connectors", type=int, default=1, help="Connectors (EVSEs).")
        parser.add_argument("--vendor", default="CSMS-Emulator")
        parser.add_argument("--model", default="Virtual-1")
        parser.add_argument(
            "--count", type=int, help="Emulate N stations (default: CONCURRENCY_LEVEL)..."
        )
        parser.add_argument("--prefix", default="CP_", help="...named PREFIX1..PREFIXN.")
        parser.add_argument(
            "--ramp", type=float, default=0, help="Start at most this many stations per second."
        )
        parser.add_argument(
            "--once", action="store_true", help="Boot, print the answer, exit 0 only if Accepted."
        )
        parser.add_argument("--duration", type=float, help="Stop after this many seconds.")
        parser.add_argument(
            "--session",
            action="append",
            default=[],
            metavar="CONNECTOR:TAG:SECONDS",
            help="A driver session: plug in, authorize, charge, stop (repeatable).",
        )
        parser.add_argument("--power", type=float, default=11_000.0, help="Charging power in W.")
        parser.add_argument("--meter-interval", type=float, help="Seconds between meter values.")
        parser.add_argument("--heartbeat-interval", type=float, help="Override the CSMS's.")
        parser.add_argument(
            "--charging",
            type=float,
            default=0.0,
            help="Fleet mode: fraction of stations running back-to-back random sessions.",
        )
        parser.add_argument(
            "--session-seconds",
            default="60:600",
            help="Fleet mode: MIN:MAX length of a random session.",
        )
        faults = parser.add_argument_group("fault injection")
        faults.add_argument("--clock-skew", type=float, default=0.0, help="Seconds off UTC.")
        faults.add_argument(
            "--drop-after",
            type=float,
            help="Drop the connection this many seconds into each session (no closing handshake).",
        )
        faults.add_argument(
            "--duplicate", action="store_true", help="Send every transaction message twice."
        )
        faults.add_argument(
            "--out-of-order", action="store_true", help="Swap consecutive meter messages."
        )
        parser.add_argument(
            "--ping-interval",
            type=float,
            default=20.0,
            help="Seconds between WebSocket pings (0: none; the CSMS's are always answered).",
        )
        parser.add_argument(
            "--log-payload",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Print every frame sent and received (default: LOG_PAYLOAD).",
        )
        parser.add_argument(
            "--log-lifecycle",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Print connect, boot, reconnect, ping and pong (default: LOG_LIFECYCLE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            environment = read_environment()
        except EnvironmentError_ as error:
            raise CommandError(str(error)) from None
        url = options["url"] or environment.url
        identities = list(options["identities"])
        count = options["count"]
        if count is None:
            # The environment's fleet size applies only when no station is named on the line.
            count = 0 if identities else (environment.count or 0)
        identities += [f"{options['prefix']}{i}" for i in range(1, count + 1)]
        if not identities:
            raise CommandError("Name at least one station (CP_1 ...) or use --count N.")
        try:
            sessions = [parse_session(s) for s in options["session"]]
        except ValueError as error:
            raise CommandError(str(error)) from None
        from csms_site.tracing import configure_tracing

        configure_tracing("csms-emulator", django=False)
        verbosity = options["verbosity"]
        self._configure_logging(
            payload=_chosen(options["log_payload"], environment.log_payload) or verbosity >= 3,
            lifecycle=_chosen(options["log_lifecycle"], environment.log_lifecycle)
            or verbosity >= 2,
        )

        def tls_for(identity: str) -> ssl.SSLContext | None:
            if not options["ca_file"] and not options["cert_file"]:
                return None
            try:
                context = ssl.create_default_context(cafile=options["ca_file"])
                if options["cert_file"]:
                    context.load_cert_chain(
                        options["cert_file"].format(identity=identity),
                        (options["key_file"] or options["cert_file"]).format(identity=identity),
                    )
            except (OSError, ssl.SSLError) as error:
                raise CommandError(f"--ca-file / --cert-file: {error}") from None
            return context

        stations = [
            EmulatedStation(
                StationOptions(
                    identity=identity,
                    url=url,
                    protocol=options["protocol"],
                    password=options["password"],
                    connectors=options["connectors"],
                    vendor=options["vendor"],
                    model=options["model"],
                    power_w=options["power"],
                    meter_interval=options["meter_interval"],
                    heartbeat_interval=options["heartbeat_interval"],
                    clock_skew_seconds=options["clock_skew"],
                    reconnect=not options["once"],
                    duplicate_messages=options["duplicate"],
                    out_of_order=options["out_of_order"],
                    ssl_context=tls_for(identity),
                    ping_interval=options["ping_interval"] or None,
                )
            )
            for identity in identities
        ]
        if options["once"]:
            try:
                ok = asyncio.run(self._once(stations))
            except KeyboardInterrupt:
                self.stderr.write("Interrupted.")
                sys.exit(130)
            sys.exit(0 if ok else 1)
        try:
            low, high = (float(x) for x in options["session_seconds"].split(":"))
        except ValueError:
            raise CommandError("--session-seconds takes MIN:MAX, e.g. 60:600") from None
        fleet = Fleet(
            stations,
            ramp=options["ramp"],
            charging=options["charging"],
            session_seconds=(low, high),
            drop_after=options["drop_after"],
        )
        asyncio.run(self._run(fleet, sessions, options["duration"]))

    async def _once(self, stations: list[EmulatedStation]) -> bool:
        results = await asyncio.gather(*(s.boot_once() for s in stations), return_exceptions=True)
        ok = True
        for station, result in zip(stations, results, strict=True):
            if isinstance(result, BaseException):
                self.stderr.write(f"{station.identity}: {type(result).__name__}: {result}")
                ok = False
                continue
            self.stdout.write(f"{station.identity}: BootNotification {result}")
            ok = ok and result.get("status") == "Accepted"
        return ok

    async def _run(
        self, fleet: Fleet, sessions: list[tuple[int, str, float]], duration: float | None
    ) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
        drivers = [
            asyncio.create_task(self._drive(station, connector, tag, seconds))
            for station in fleet.stations
            for connector, tag, seconds in sessions
        ]
        if duration is not None:
            loop.call_later(duration, stop.set)
        report = await fleet.run(stop)
        for task in drivers:
            task.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        for line in report.lines():
            self.stdout.write(line)

    async def _drive(
        self, station: EmulatedStation, connector: int, tag: str, seconds: float
    ) -> None:
        await station.online.wait()
        if not await station.session(connector, tag, seconds):
            self.stderr.write(f"{station.identity}: session on connector {connector} refused")
        await station.outbox_drained()

    def _configure_logging(self, *, payload: bool, lifecycle: bool) -> None:
        stream = cast(TextIO, self.stdout._out)  # the command's stdout, unwrapped
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        pings = logging.StreamHandler(stream)
        pings.setFormatter(handler.formatter)
        pings.addFilter(PingPongOnly())
        websocket_log = logging.getLogger("emulator.websocket")
        websocket_log.handlers = [pings]
        websocket_log.propagate = False
        # websockets writes its frame lines only when its logger is enabled for DEBUG.
        websocket_log.setLevel(logging.DEBUG if lifecycle else logging.WARNING)
        for name, enabled in (
            ("emulator", lifecycle),
            ("emulator.frames", payload),
            ("ocppj.calls", False),  # the frame lines already show every CALL
        ):
            log = logging.getLogger(name)
            log.handlers = [handler]
            log.propagate = False
            log.setLevel(logging.INFO if enabled else logging.WARNING)
