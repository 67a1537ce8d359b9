"""One end of an OCPP-J connection: routes incoming frames, answers CALLs, correlates our CALLs.

I/O is injected: `send` writes one text frame; the owner feeds every received text frame to
`receive()`. Handlers are the `ocpp` library's: methods decorated with `@on(Action.X)` receive the
payload as snake_case keyword arguments and return a `call_result` dataclass (or a camelCase dict).

Incoming CALLs are handled one at a time, in order, by the task that calls `receive()`; that order is
what lets a StartTransaction commit before the MeterValues that follow it. Our own CALLs (`call()`)
run in other tasks: they send, then wait on a future that `receive()` resolves, so waiting for a
station's answer never blocks the routing of its frames. One CALL is outstanding at a time, as both
versions require.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.routing import create_route_map
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode

from ocppj import frames, schemas, telemetry
from ocppj.casing import to_camel, to_snake
from ocppj.errors import CallErrorReceived, ErrorCode, InvalidResponse, OcppError

logger = logging.getLogger("ocppj")
# One line per parsed CALL, like the seeds print; on with the frame log (OCPP_LOG_FRAMES).
calls_logger = logging.getLogger("ocppj.calls")

KNOWN_ACTIONS = {
    "1.6": frozenset(a.value for a in Action16),
    "2.0.1": frozenset(a.value for a in Action201),
}

# Called for every frame in both directions: (direction "in"/"out", raw text, message type id or 0
# when unreadable, unique id or "", action or "" when unknown).
FrameObserver = Callable[[str, str, int, str, str], None]
CallGuard = Callable[[str], None]


_ROUTES: dict[type, dict[str, dict[str, Any]]] = {}


def _class_routes(handler_class: type) -> dict[str, dict[str, Any]]:
    """The `ocpp` library's route map of a handler class (its functions, called with the handler),
    built once per class. Built per connection, it tried every `@on`-decorated name of the process
    on the handler, catching AttributeErrors: 6 % of a boot storm's CPU."""
    routes = _ROUTES.get(handler_class)
    if routes is None:
        routes = _ROUTES[handler_class] = create_route_map(handler_class)
    return routes


class RpcEndpoint:
    def __init__(
        self,
        *,
        version: str,
        handler: object,
        send: Callable[[str], Awaitable[None]],
        call_timeout: float = 30.0,
        guard: CallGuard | None = None,
        observer: FrameObserver | None = None,
        name: str = "",
        trace_context: Context | None = None,
    ):
        self.version = version
        self.name = name
        # Spans of this connection hang under the peer's (from the handshake) when it sent one.
        self.trace_context = trace_context
        self._traced = telemetry.enabled()
        self.call_timeout = call_timeout
        self._handler = handler
        self._routes = _class_routes(type(handler))
        self._send = send
        self._guard = guard
        self._observer = observer
        self._known = KNOWN_ACTIONS[version]
        self._call_lock = asyncio.Lock()
        self._pending: dict[str, tuple[str, asyncio.Future]] = {}
        self._after_tasks: set[asyncio.Task] = set()

    # --- incoming -------------------------------------------------------------------------------

    async def receive(self, text: str | bytes) -> None:
        """Route one received frame; never raises for anything the peer sent."""
        try:
            frame = frames.parse(text)
        except frames.FrameError as error:
            # Only the three defined types are recorded as such; anything else is "unreadable" (0).
            message_type = error.message_type
            if message_type not in (frames.CALL, frames.CALLRESULT, frames.CALLERROR):
                message_type = 0
            self._observe("in", text, message_type, "", "")
            reply_id = error.reply_for(self.version)
            logger.warning(
                "%s: %s frame: %s",
                self.name,
                "refused" if reply_id else "ignored",
                error.description,
            )
            if reply_id is not None:
                text = frames.encode_error(
                    reply_id, error.code, error.description, {}, self.version
                )
                await self._write(text, frames.CALLERROR, reply_id, "")
            return

        if type(frame) is frames.Call:
            self._observe("in", text, frames.CALL, frame.unique_id, frame.action)
            await self._answer(frame)
            return

        pending = self._pending.get(frame.unique_id)
        message_type = frames.CALLRESULT if type(frame) is frames.CallResult else frames.CALLERROR
        self._observe("in", text, message_type, frame.unique_id, pending[0] if pending else "")
        if pending is None:
            logger.warning("%s: ignored an answer to unknown id %s", self.name, frame.unique_id)
            return
        if not pending[1].done():
            pending[1].set_result(frame)

    async def _answer(self, call: frames.Call) -> None:
        if calls_logger.isEnabledFor(logging.INFO):
            calls_logger.info(
                "%s: parsed CALL action=%s uid=%s", self.name, call.action, call.unique_id
            )
        if not self._traced:
            await self._respond(call)
            return
        started = time.perf_counter()
        with telemetry.tracer.start_as_current_span(
            f"ocpp {call.action}",
            context=self.trace_context,
            kind=SpanKind.SERVER,
            attributes=self._attributes(call.action, call.unique_id),
        ) as span:
            result = await self._respond(call)
            span.set_attribute("ocpp.result", result)
            if result != "CALLRESULT":
                span.set_status(StatusCode.ERROR, result)
        attributes = {
            "ocpp.action": call.action,
            "ocpp.protocol": self.version,
            "ocpp.result": result,
        }
        telemetry.messages.add(1, attributes)
        telemetry.handling_ms.record((time.perf_counter() - started) * 1000, attributes)

    def _attributes(self, action: str, unique_id: str) -> dict[str, str]:
        return {
            "ocpp.action": action,
            "ocpp.message_id": unique_id,
            "ocpp.station_id": self.name,
            "ocpp.protocol": self.version,
        }

    async def _respond(self, call: frames.Call) -> str:
        """Answer one CALL; returns "CALLRESULT" or the error code sent."""
        try:
            payload = await self._dispatch(call)
        except OcppError as error:
            text = frames.encode_error(
                call.unique_id, error.code, error.description, error.details, self.version
            )
            await self._write(text, frames.CALLERROR, call.unique_id, call.action)
            return error.code.wire(self.version)
        except Exception:
            logger.exception("%s: handler for %s failed", self.name, call.action)
            text = frames.encode_error(
                call.unique_id,
                ErrorCode.INTERNAL_ERROR,
                f"{call.action} could not be processed; retry later",
                {},
                self.version,
            )
            await self._write(text, frames.CALLERROR, call.unique_id, call.action)
            return ErrorCode.INTERNAL_ERROR.value
        text = frames.encode_result(call.unique_id, payload)
        await self._write(text, frames.CALLRESULT, call.unique_id, call.action)
        self._run_after_hook(call)
        return "CALLRESULT"

    async def _dispatch(self, call: frames.Call) -> dict[str, Any]:
        route = self._routes.get(call.action)
        if route is None or "_on_action" not in route:
            if call.action in self._known:
                raise OcppError(
                    ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported by this endpoint"
                )
            raise OcppError(
                ErrorCode.NOT_IMPLEMENTED, f"{call.action} is not an OCPP {self.version} action"
            )
        if self._guard is not None:
            self._guard(call.action)
        validating = not route.get("_skip_schema_validation", False)
        if validating:
            schemas.validate(self.version, call.action, schemas.REQUEST, call.payload)
        result = route["_on_action"](self._handler, **to_snake(call.payload))
        if inspect.isawaitable(result):
            result = await result
        payload = to_camel(result)
        if validating:
            try:
                schemas.validate(self.version, call.action, schemas.RESPONSE, payload)
            except OcppError as error:
                # Our own answer is wrong: that is an internal error, not the station's fault.
                logger.error(
                    "%s: invalid %s response %s: %s", self.name, call.action, payload, error
                )
                raise OcppError(
                    ErrorCode.INTERNAL_ERROR, "The CSMS produced an invalid response"
                ) from None
        return payload

    def _run_after_hook(self, call: frames.Call) -> None:
        route = self._routes.get(call.action)
        after = route.get("_after_action") if route else None
        if after is None:
            return
        result = after(self._handler, **to_snake(call.payload))
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._after_tasks.add(task)
            task.add_done_callback(self._after_tasks.discard)

    # --- outgoing -------------------------------------------------------------------------------

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,
        validated: bool = False,
    ) -> dict[str, Any]:
        """Send a CALL and return the peer's CALLRESULT payload.

        Raises OcppError if `payload` breaks the action's request schema (nothing is sent),
        CallErrorReceived on a CALLERROR, InvalidResponse on a CALLRESULT that breaks the
        response schema, and TimeoutError when no answer arrives in time. `validated`: the
        caller has checked the payload against the schema already (it is not checked twice).
        """
        if not validated:
            schemas.validate(self.version, action, schemas.REQUEST, payload)
        if not self._traced:
            return await self._call(action, payload, timeout)
        with telemetry.tracer.start_as_current_span(
            f"ocpp.call {action}", kind=SpanKind.CLIENT, attributes=self._attributes(action, "")
        ) as span:
            outcome = "answered"
            try:
                return await self._call(action, payload, timeout)
            except CallErrorReceived as error:
                outcome = error.code
                raise
            except (TimeoutError, InvalidResponse, ConnectionError) as error:
                outcome = type(error).__name__
                raise
            finally:
                span.set_attribute("ocpp.outcome", outcome)
                if outcome != "answered":
                    span.set_status(StatusCode.ERROR, outcome)
                telemetry.calls.add(
                    1,
                    {"ocpp.action": action, "ocpp.protocol": self.version, "ocpp.outcome": outcome},
                )

    async def _call(
        self, action: str, payload: dict[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        async with self._call_lock:
            unique_id = str(uuid.uuid4())
            future: asyncio.Future = loop.create_future()
            self._pending[unique_id] = (action, future)
            try:
                text = frames.encode_call(unique_id, action, payload)
                await self._write(text, frames.CALL, unique_id, action)
                async with asyncio.timeout(timeout or self.call_timeout):
                    answer = await future
            finally:
                del self._pending[unique_id]
        if type(answer) is frames.CallError:
            raise CallErrorReceived(answer.code, answer.description, answer.details)
        try:
            schemas.validate(self.version, action, schemas.RESPONSE, answer.payload)
        except OcppError as error:
            raise InvalidResponse(error, answer.payload) from None
        return answer.payload

    def cancel_pending(self) -> None:
        """Fail every CALL still waiting: the connection is gone."""
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))

    # --- plumbing -------------------------------------------------------------------------------

    async def _write(self, text: str, message_type: int, unique_id: str, action: str) -> None:
        self._observe("out", text, message_type, unique_id, action)
        await self._send(text)

    def _observe(
        self, direction: str, text: str | bytes, message_type: int, unique_id: str, action: str
    ) -> None:
        if self._observer is not None:
            raw = text if type(text) is str else repr(text)
            self._observer(direction, raw, message_type, unique_id, action)
