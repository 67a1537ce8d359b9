"""The transport: one Channels consumer per station WebSocket.

It admits or refuses the handshake, then feeds every text frame to the station's RpcEndpoint and
writes what the endpoint answers. Protocol rules live in `ocppj` and `stations.ocpp`, data in
`stations.services`; this class only moves frames and channel-layer events.

Second connection rule: a socket joins the station's group before it claims the station, then tells
the group the session number it claimed. Every older socket of that station, in any worker process,
receives that and closes itself; a socket that hears of an older session ignores it. The database
row's `session` and `channel_name` name the one live socket, where commands are sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from csms_site import metrics
from ocppj import CallErrorReceived, ErrorCode, OcppError, RpcEndpoint, frames, telemetry
from ocppj.errors import InvalidResponse
from stations import background, db, handshake, security, throttle
from stations.identity import is_valid_identity, station_group
from stations.liveness import silence_watch
from stations.ocpp import SESSIONS, StationSession
from stations.passwords import parse_basic_authorization
from stations.recorders import message_log, presence
from stations.remote.results import Outcome
from stations.services.connections import Admission, Credentials, station_admit
from stations.services.liveness import (
    CLOSE_REPLACED,
    CLOSE_SILENT,
    station_disconnected,
    station_silent,
)

if TYPE_CHECKING:
    from asgiref.typing import WebSocketConnectEvent, WebSocketDisconnectEvent

logger = logging.getLogger("csms.connections")
frame_logger = logging.getLogger("csms.frames")

CLOSE_TOO_BIG = 1009
THROTTLED = "Too many failed logins: wrong credentials are refused for a while"
# Commands whose accepted answer announces NotifyReport parts.
REPORTS = ("GetBaseReport", "GetReport")


def frame_too_big(text: str) -> bool:
    """Whether a text frame is above OCPP_MAX_FRAME_BYTES once UTF-8 encoded (as the transport
    counts); encoded only when its characters alone cannot tell."""
    limit = settings.OCPP_MAX_FRAME_BYTES
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


class LeanDispatch:
    """Channels (4.2+) hops to the shared database thread before every event to close stale
    connections. Consumers whose database calls all go through `stations.db` (which does that
    itself) skip the hop: it would only add latency to every frame and funnel every socket's
    events through one thread."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class StationConsumer(LeanDispatch, AsyncWebsocketConsumer):
    identity: str = ""
    session_number: int = 0
    trace_context: Any = None
    session: StationSession | None = None
    rpc: RpcEndpoint | None = None
    commands: set[asyncio.Task] | None = None
    last_frame_at: float = 0.0  # time.monotonic() of the last frame; read by the silence watch
    released: bool = False  # the station row was already marked offline for this socket
    socket_closed: bool = False  # disconnect ran: nothing more can be sent

    async def websocket_connect(self, message: WebSocketConnectEvent) -> None:
        # The station's trace context (handshake headers) parents everything on this socket.
        self.trace_context = telemetry.context_from_headers(handshake.text_headers(self.scope))
        with telemetry.tracer.start_as_current_span(
            "ocpp.connect", context=self.trace_context, kind=SpanKind.SERVER
        ) as span:
            await self._connect(message)
            span.set_attribute("ocpp.station_id", self.identity or "")
            span.set_attribute("ocpp.admitted", self.rpc is not None)

    async def _connect(self, message: WebSocketConnectEvent) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        identity = kwargs["station_id"]
        address = handshake.client_address(self.scope)
        if not is_valid_identity(identity):
            logger.warning("Refused %r from %s: not a valid station identity", identity, address)
            await self._refuse(400, "Invalid station identity")
            return
        subprotocol, version = handshake.negotiate(
            self.scope.get("subprotocols", []), kwargs.get("version")
        )
        if version is None:
            logger.warning(
                "Refused %s from %s: no supported subprotocol in %s",
                identity,
                address,
                self.scope.get("subprotocols"),
            )
            await self._refuse(400, "No supported OCPP version offered (ocpp2.0.1, ocpp1.6)")
            return

        credentials = parse_basic_authorization(handshake.header(self.scope, b"authorization"))
        connection = security.from_scope(self.scope)
        admission = await self._authenticate(identity, address, credentials, version, connection)
        if admission is None:
            return
        await self._admit(identity, address, subprotocol, version, admission)

    async def _authenticate(
        self,
        identity: str,
        address: str,
        credentials: Credentials,
        version: str,
        connection: security.ConnectionSecurity,
    ) -> Admission | None:
        """The login throttle's verdict first (stations/throttle.py), in memory; then, unless it
        refused, one hop to `station_admit`. None: refused (the refusal is sent). A connection
        whose verified client certificate names the identity passes the throttle: TLS proved
        who it is, and no failure of others may hold it back."""
        if connection.client_cn == identity:
            verdict = throttle.Verdict.NORMAL
        else:
            verdict = throttle.assess(identity, address, credentials)
        for _ in range(3):  # a check of this identity, or the identity index, is under way
            if verdict is not throttle.Verdict.WAIT:
                break
            await throttle.wait(identity)
            verdict = throttle.assess(identity, address, credentials)
        else:
            verdict = throttle.assess(identity, address, credentials, patient=False)
        if verdict in (throttle.Verdict.WRONG, throttle.Verdict.UNKNOWN):
            throttle.refused_in_memory(
                identity, address, unknown=verdict is throttle.Verdict.UNKNOWN
            )
            logger.debug("Refused %s from %s in memory: throttled", identity, address)
            await throttle.slow_down()
            await self._refuse(429, THROTTLED)
            return None

        throttled = verdict is throttle.Verdict.CHECK
        # Counted from the verdict on (no await in between): a concurrent burst sees it.
        throttle.by_identity.begin(identity)
        group = station_group(identity)
        try:
            # Joined before the station is claimed, so that a later takeover cannot be missed.
            await self.channel_layer.group_add(group, self.channel_name)
            admission = await db.write(
                identity,
                station_admit,
                identity,
                credentials,
                address=address,
                protocol=version,
                channel_name=self.channel_name,
                record=not throttled,
                connection=connection,
            )
        except Exception:
            await self.channel_layer.group_discard(group, self.channel_name)
            raise
        finally:
            throttle.by_identity.end(identity)
        # What the check learnt is counted before any await: a concurrent handshake for this
        # identity must see it (the failure, or the keys to check against).
        throttle.learn(identity, admission.keys)
        if admission.admitted:
            throttle.by_identity.success(identity)
            return admission
        status, reason = admission.status, admission.reason
        if throttled and status in (401, 404):
            throttle.refused_in_memory(identity, address, unknown=status == 404)
            status, reason = 429, THROTTLED
        elif status in (401, 404):
            throttle.failed(identity, address)
        await self.channel_layer.group_discard(group, self.channel_name)
        if status == 429:
            await throttle.slow_down()
        await self._refuse(status, reason)
        return None

    async def _admit(
        self,
        identity: str,
        address: str,
        subprotocol: str | None,
        version: str,
        admission: Admission,
    ) -> None:
        self.identity = identity
        self.session_number = admission.session
        self.session = SESSIONS[version](identity, accepted=admission.accepted)
        self.rpc = RpcEndpoint(
            version=version,
            handler=self.session,
            send=self._send_text,
            call_timeout=settings.OCPP_CALL_TIMEOUT,
            guard=self.session.guard,
            observer=self._observe,
            name=identity,
            trace_context=self.trace_context,
        )
        await self.accept(subprotocol)
        # Everything the handshake's headers said has been read: not kept for the socket's life.
        # The list is shared by every scope between the server and here (and the routers' frames
        # keep theirs until the socket closes), so it is emptied in place; the server's protocol
        # forgets the rest of its handshake (csms_site/uvicorn_ws.py).
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()
        self.last_frame_at = time.monotonic()
        silence_watch.add(self)
        await self.channel_layer.group_send(
            station_group(identity), {"type": "station.takeover", "session": admission.session}
        )
        background.ensure_started()  # where no lifespan started the jobs (a no-op once they run)
        logger.info("Client connected: %s (OCPP %s, %s)", identity, version, address)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.rpc is None:
            return
        self.last_frame_at = time.monotonic()
        presence.seen(self.identity)
        if bytes_data is not None:
            # OCPP-J frames are text frames; a binary frame cannot be a valid RPC message.
            self._observe("in", repr(bytes_data[:256]), 0, "", "")
            await self._send_text(
                frames.encode_error(
                    frames.UNREADABLE_ID,
                    ErrorCode.RPC_FRAMEWORK_ERROR,
                    "Binary frames are not OCPP-J; send text frames",
                    {},
                    self.rpc.version,
                )
            )
            return
        if text_data is None:
            return  # neither text nor bytes: no frame (ASGI servers always send one of them)
        if frame_too_big(text_data):
            logger.warning(
                "%s: frame of %d characters exceeds OCPP_MAX_FRAME_BYTES (%d bytes); closing",
                self.identity,
                len(text_data),
                settings.OCPP_MAX_FRAME_BYTES,
            )
            await self.close(
                code=CLOSE_TOO_BIG,
                reason=f"Frame too large (limit {settings.OCPP_MAX_FRAME_BYTES} bytes)",
            )
            return
        await self.rpc.receive(text_data)

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        """Channels' own, less its hop to the database thread (`aclose_old_connections`) after
        `disconnect`: a refused handshake then costs that thread nothing (a flood of them would
        queue a hop each ahead of live stations' work, and with CONN_MAX_AGE=0 close the
        connection every time). `disconnect` reaches the database only through `stations.db`,
        which closes stale connections itself."""
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.disconnect(message.get("code", 1005))
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        if self.rpc is None:
            return
        silence_watch.discard(self)
        # Commands are not cancelled: each must still send its reply. One already answered (a
        # Reset, then the station closes to reboot) replies with that answer; one in flight fails
        # here, and one queued behind it fails on sending (`_send_text`): both reply
        # not_connected at once. A cancelled command sent no reply at all, and its caller waited
        # out its whole timeout to say that nobody had answered.
        self.socket_closed = True
        self.rpc.cancel_pending()
        try:
            await self.channel_layer.group_discard(station_group(self.identity), self.channel_name)
        except Exception:
            # The row must be released whatever the channel layer says (thousands of sockets
            # closing at once can exhaust its pool); a stale group entry only expires.
            logger.warning("%s: leaving the station group failed", self.identity, exc_info=True)
        if not self.released:
            self.released = True
            with telemetry.tracer.start_as_current_span(
                "ocpp.disconnect", context=self.trace_context, kind=SpanKind.SERVER
            ):
                await db.write(
                    self.identity, station_disconnected, self.identity, self.session_number, code
                )
        logger.info("Client disconnected: %s (code %s)", self.identity, code)

    async def close_silent(self, silent_for: float) -> None:
        """Called by the silence watch. The row is marked offline first: a half-open socket never
        completes the close handshake, and the station must not look online meanwhile."""
        if self.rpc is None or self.released:
            return
        logger.warning(
            "%s: no frame for %.1f s (OCPP_SILENCE_TIMEOUT); closing", self.identity, silent_for
        )
        self.released = True
        await db.write(
            self.identity, station_silent, self.identity, self.session_number, silent_for
        )
        await self.close(code=CLOSE_SILENT, reason="Silent for longer than OCPP_SILENCE_TIMEOUT")

    # --- channel-layer events -------------------------------------------------------------------

    async def station_takeover(self, event: dict[str, Any]) -> None:
        if self.rpc is not None and event["session"] > self.session_number:
            logger.warning("%s: replaced by a newer authenticated connection", self.identity)
            await self.close(code=CLOSE_REPLACED, reason="Replaced by a newer connection")

    async def station_command(self, event: dict[str, Any]) -> None:
        """A command from any process. It runs in its own task: awaiting the station's answer here
        would block the very receive loop that has to deliver it."""
        if self.commands is None:
            self.commands = set()
        task = asyncio.create_task(self._run_command(event))
        self.commands.add(task)
        task.add_done_callback(self.commands.discard)

    async def _run_command(self, event: dict[str, Any]) -> None:
        reply = {"outcome": Outcome.NOT_CONNECTED, "description": "The station went away"}
        try:
            reply = await self._traced_command_reply(event)
        except Exception:
            logger.exception("%s: command %s failed", self.identity, event.get("action"))
        finally:
            # Whatever happened, the caller hears of it rather than waiting out its timeout.
            await self.channel_layer.send(event["reply_to"], reply)

    async def _traced_command_reply(self, event: dict[str, Any]) -> dict[str, Any]:
        action, payload = event["action"], event["payload"]
        if self.rpc is not None and "trace" in event:
            # One trace from the REST request, through the channel layer, to the station.
            parent = telemetry.propagate.extract(event["trace"])
            token = otel_context.attach(parent)
            try:
                with telemetry.tracer.start_as_current_span(
                    f"ocpp.command.deliver {action}", kind=SpanKind.CONSUMER
                ):
                    return await self._command_reply(action, payload, event)
            finally:
                otel_context.detach(token)
        return await self._command_reply(action, payload, event)

    async def _command_reply(
        self, action: str, payload: dict[str, Any], event: dict[str, Any]
    ) -> dict[str, Any]:
        reply: dict[str, Any]
        if self.rpc is None:
            reply = {"outcome": Outcome.NOT_CONNECTED, "description": "Socket is not open"}
        else:
            try:
                if self.session is not None:
                    self.session.command_sent(action, payload)
                answer = await self.rpc.call(
                    action,
                    payload,
                    timeout=event.get("timeout"),
                    validated=event.get("checked", False),
                )
                reply = {"outcome": Outcome.ANSWERED, "payload": answer}
                self._note_trigger(action, payload, answer)
            except CallErrorReceived as error:
                reply = {
                    "outcome": Outcome.CALL_ERROR,
                    "error_code": error.code,
                    "description": error.description,
                    "details": error.details if isinstance(error.details, dict) else {},
                }
            except InvalidResponse as error:
                reply = {
                    "outcome": Outcome.INVALID_RESPONSE,
                    "payload": error.payload,
                    "description": error.error.description,
                }
            except OcppError as error:
                reply = {
                    "outcome": Outcome.CALL_ERROR,
                    "error_code": error.code.value,
                    "description": error.description,
                }
            except TimeoutError:
                reply = {"outcome": Outcome.TIMEOUT, "description": "The station did not answer"}
            except ConnectionError:
                reply = {"outcome": Outcome.NOT_CONNECTED, "description": "The station went away"}
        return reply

    def _note_trigger(self, action: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        """A station the CSMS asked for a message (a TriggerMessage, a report) may send it even
        before it is accepted."""
        if action == "TriggerMessage" and answer.get("status") == "Accepted" and self.session:
            self.session.triggered.add(payload["requestedMessage"])
        elif (
            action in REPORTS
            and answer.get("status") == "Accepted"
            and self.session
            and not self.session.accepted  # provisioning while Pending (B02.FR.01)
        ):
            self.session.reports_expected.add(payload["requestId"])

    # --- plumbing -------------------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        if self.socket_closed:  # a command queued behind the last CALL: it fails, not_connected
            raise ConnectionError("the station's socket is closed")
        await self.send(text_data=text)

    def _observe(
        self, direction: str, text: str, message_type: int, unique_id: str, action: str
    ) -> None:
        if frame_logger.isEnabledFor(logging.INFO):
            frame_logger.info(
                "%s: %s %s", self.identity, "receive message" if direction == "in" else "send", text
            )
        if settings.OCPP_MESSAGE_LOG:
            message_log.record(self.identity, direction, text, message_type, unique_id, action)
        metrics.observe_frame(self, direction, text, message_type, unique_id, action)

    async def _refuse(self, status: int, reason: str) -> None:
        """Refuse before the upgrade: our HTTP status where the server can send one, else 403."""
        metrics.login_refused(status, reason)
        await handshake.refuse(self.scope, self.base_send, status, reason)
