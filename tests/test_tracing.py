"""OpenTelemetry across the emulator and the CSMS: one trace per station connection and per
command, recorded by an in-memory exporter."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import uvicorn
from channels.db import database_sync_to_async
from django.db import connections
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from emulator.station import EmulatedStation, StationOptions
from ocppj import RpcEndpoint
from stations.models import Station
from tests.api_clients import make_user

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder(SpanProcessor):
    """Keeps finished spans and wakes whoever waits for one."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.changed: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)
        if self.loop is not None and self.changed is not None:
            self.loop.call_soon_threadsafe(self.changed.set)

    async def wait_for(self, name: str, timeout: float = 5) -> ReadableSpan:
        self.loop, self.changed = asyncio.get_running_loop(), asyncio.Event()
        async with asyncio.timeout(timeout):
            while True:
                found = [s for s in self.spans if s.name == name]
                if found:
                    return found[-1]
                self.changed.clear()
                await self.changed.wait()


def _install() -> Recorder:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    recorder = Recorder()
    provider.add_span_processor(recorder)
    return recorder


@pytest.fixture
def spans():
    recorder = _install()
    yield recorder
    recorder.loop = recorder.changed = None
    recorder.spans.clear()


@pytest.fixture
async def server(transactional_db):
    """Our ASGI application on a real uvicorn server in this process (so its spans are ours)."""
    from csms_site.asgi import application

    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ocpp/"
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_boot_from_the_emulator_is_one_trace_across_station_and_csms(
    spans, server, version
):
    await Station.objects.acreate(id="TRACED", registration_status="Accepted")
    station = EmulatedStation(StationOptions(identity="TRACED", url=server, protocol=version))
    answer = await station.boot_once()
    assert answer["status"] == "Accepted"

    handled = await spans.wait_for("ocpp BootNotification")  # the CSMS's span
    sent = await spans.wait_for("ocpp.call BootNotification")  # the station's
    connection = await spans.wait_for("ocpp.station.connection")
    assert handled.kind == SpanKind.SERVER and sent.kind == SpanKind.CLIENT
    trace_id = connection.context.trace_id
    assert handled.context.trace_id == sent.context.trace_id == trace_id
    # Both sides hang under the station's connection span, whose context crossed in the handshake.
    assert handled.parent.span_id == connection.context.span_id
    assert sent.parent.span_id == connection.context.span_id
    assert handled.attributes["ocpp.station_id"] == "TRACED"
    assert handled.attributes["ocpp.protocol"] == version
    assert handled.attributes["ocpp.result"] == "CALLRESULT"
    assert handled.attributes["ocpp.message_id"]


async def test_a_rest_command_is_one_trace_through_the_channel_layer(spans, booted):
    from csms_site.tracing import instrument_django

    instrument_django()  # before the client builds its middleware
    # Connections opened before the instrumentation are not traced: reopen them in the thread
    # that serves synchronous views.
    await database_sync_to_async(connections.close_all)()
    operator = await make_user("operator", staff=True)
    request = asyncio.create_task(
        operator.post(
            "/api/stations/CP_1/commands/ClearCache/", {}, content_type="application/json"
        )
    )
    call = await booted.receive()
    await booted.send([3, call[1], {"status": "Accepted"}])
    assert (await request).status_code == 200

    command = await spans.wait_for("ocpp.command ClearCache")
    deliver = await spans.wait_for("ocpp.command.deliver ClearCache")
    sent = await spans.wait_for("ocpp.call ClearCache")
    http = next(s for s in spans.spans if s.kind == SpanKind.SERVER and "commands" in s.name)
    trace_id = http.context.trace_id
    assert command.context.trace_id == deliver.context.trace_id == sent.context.trace_id == trace_id
    assert command.parent.span_id == http.context.span_id
    assert deliver.parent.span_id == command.context.span_id  # carried in the layer event
    assert sent.parent.span_id == deliver.context.span_id
    assert command.attributes["ocpp.outcome"] == "answered"
    database = [
        s
        for s in spans.spans
        if s.context.trace_id == trace_id and "db.system" in (s.attributes or {})
    ]
    assert database, "database spans belong to the request's trace"


async def test_with_tracing_off_an_endpoint_records_nothing(spans, monkeypatch):
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    class Handler:
        pass

    endpoint = RpcEndpoint(version="2.0.1", handler=Handler(), send=send)
    assert endpoint._traced is False
    await endpoint.receive('[2,"x","Heartbeat",{}]')
    assert sent and not spans.spans
