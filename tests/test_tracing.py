"""OpenTelemetry across the emulator and the CSMS: one trace per station connection and per
command, recorded by an in-memory exporter."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.server
import os
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc  # type: ignore[import-untyped]  # grpcio ships no stubs; types-grpcio is not a dev dependency
import pytest
import uvicorn
from channels.db import database_sync_to_async
from django.db import connections
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from csms_site import tracing
from emulator.station import EmulatedStation, StationOptions
from ocppj import RpcEndpoint
from stations.models import Station
from tests.api_clients import make_user
from tests.servers import ROOT, AsgiServer

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
    """Our ASGI application on a real uvicorn server in this process (so its spans are ours).

    Without the lifespan: the periodic jobs would run in this test's loop and add their own spans
    to the ones under test; they start on first use instead, as under daphne."""
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


# --- OTLP configuration: the standard variables, real receivers ---------------------------------------
# Each configuration runs in a process of its own (a provider is installed once per process) and
# exports to receivers on the loopback of this one: OTLP/HTTP protobuf (a tiny HTTP server) and
# OTLP/gRPC (the collector's own service definitions).


class OtlpReceiver:
    """What arrived: (path or gRPC service, service.name, span or metric name, trace id)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str, str]] = []
        self.metrics: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def take_traces(self, where: str, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource in request.resource_spans:
                service = _service_name(resource.resource)
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.spans.append((where, service, span.name, span.trace_id.hex()))

    def take_metrics(self, where: str, request: ExportMetricsServiceRequest) -> None:
        with self.lock:
            for resource in request.resource_metrics:
                service = _service_name(resource.resource)
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        self.metrics.append((where, service, metric.name))

    def span_names(self, where: str, service: str) -> set[str]:
        with self.lock:
            return {name for w, s, name, _ in self.spans if w == where and s == service}

    def metric_names(self, where: str, service: str) -> set[str]:
        with self.lock:
            return {name for w, s, name in self.metrics if w == where and s == service}


def _service_name(resource) -> str:
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            return attribute.value.string_value
    return ""


class HttpReceiver(OtlpReceiver):
    """OTLP/HTTP with protobuf bodies, on any path (the default ones are /v1/traces, /v1/metrics)."""

    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                assert self.headers.get("Content-Type") == "application/x-protobuf"
                if self.path.endswith("metrics"):
                    request = ExportMetricsServiceRequest.FromString(body)
                    receiver.take_metrics(self.path, request)
                    answer = ExportMetricsServiceResponse()
                else:
                    receiver.take_traces(self.path, ExportTraceServiceRequest.FromString(body))
                    answer = ExportTraceServiceResponse()
                payload = answer.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GrpcReceiver(OtlpReceiver):
    """OTLP/gRPC: the collector's TraceService and MetricsService."""

    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):
                receiver.take_traces("grpc", request)
                return ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):
                receiver.take_metrics("grpc", request)
                return ExportMetricsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.url = f"http://127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def grpc_receiver():
    receiver = GrpcReceiver()
    yield receiver
    receiver.stop()


def _clean_otel_environment(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


# A process that configures telemetry as the CSMS and the emulator do, records one span and one
# metric, and exits (the SDK flushes both at exit).
PROBE = """
from opentelemetry import metrics, trace
from csms_site.tracing import configure_tracing

assert configure_tracing("otlp-probe", django=False)
with trace.get_tracer("probe").start_as_current_span("probe span"):
    metrics.get_meter("probe").create_counter("probe.count").add(1)
"""


def run_probe(env: dict[str, str]) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_protocol_and_endpoints_are_read_per_signal(monkeypatch):
    _clean_otel_environment(monkeypatch)
    assert tracing.protocol("traces") is None and not tracing.exporting()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert not tracing.exporting(), "a protocol without an endpoint exports nothing"

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert tracing.protocol("traces") == tracing.protocol("metrics") == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
    assert (tracing.protocol("traces"), tracing.protocol("metrics")) == ("http/protobuf", "grpc")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
    assert tracing.protocol("traces") == "grpc"  # the Python SDK's default
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert tracing.protocol("metrics") is None and tracing.protocol("traces") == "grpc"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp_proto_http")
    assert tracing.protocol("traces") == "http/protobuf"

    _clean_otel_environment(monkeypatch)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://collector:4317")
    assert tracing.protocol("traces") is None and tracing.protocol("metrics") == "grpc"
    assert tracing.exporting()

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ValueError, match="http/json"):
        tracing.exporting()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    with pytest.raises(ValueError, match="OTEL_METRICS_EXPORTER"):
        tracing.exporting()


def test_the_exporters_are_the_sdks_for_each_protocol():
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter as GrpcMetrics,
    )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetrics,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

    assert isinstance(tracing.span_exporter("http/protobuf"), HttpSpans)
    assert isinstance(tracing.span_exporter("grpc"), GrpcSpans)
    assert isinstance(tracing.metric_exporter("http/protobuf"), HttpMetrics)
    assert isinstance(tracing.metric_exporter("grpc"), GrpcMetrics)


def test_otlp_http_on_the_default_paths(http_receiver):
    run_probe(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.url,
        }
    )
    assert http_receiver.span_names("/v1/traces", "otlp-probe") == {"probe span"}
    assert "probe.count" in http_receiver.metric_names("/v1/metrics", "otlp-probe")


def test_otlp_grpc_is_the_default_protocol(grpc_receiver):
    run_probe({"OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.url})
    assert grpc_receiver.span_names("grpc", "otlp-probe") == {"probe span"}
    assert "probe.count" in grpc_receiver.metric_names("grpc", "otlp-probe")


def test_per_signal_endpoints_and_protocols_win(http_receiver, grpc_receiver):
    # Traces over HTTP to a path of our choosing, metrics over gRPC; the shared endpoint (nothing
    # listens there) is overridden for both.
    run_probe(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{http_receiver.url}/collector/traces",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": grpc_receiver.url,
        }
    )
    assert http_receiver.span_names("/collector/traces", "otlp-probe") == {"probe span"}
    assert "probe.count" in grpc_receiver.metric_names("grpc", "otlp-probe")
    assert not grpc_receiver.spans and not http_receiver.metrics

    # The other way round, from the shared variables: HTTP for all, traces to gRPC.
    http_receiver.spans.clear()
    grpc_receiver.metrics.clear()
    run_probe(
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.url,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": grpc_receiver.url,
        }
    )
    assert grpc_receiver.span_names("grpc", "otlp-probe") == {"probe span"}
    assert "probe.count" in http_receiver.metric_names("/v1/metrics", "otlp-probe")
    assert not http_receiver.spans and not grpc_receiver.metrics


def test_only_a_metrics_endpoint_exports_metrics_only(http_receiver):
    run_probe(
        {
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{http_receiver.url}/v1/metrics",
        }
    )
    assert "probe.count" in http_receiver.metric_names("/v1/metrics", "otlp-probe")
    assert not http_receiver.spans


def _wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not received in time"
        time.sleep(0.05)


@pytest.mark.live
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_csms_and_the_emulator_export_one_trace(protocol, http_receiver, grpc_receiver):
    """The real processes: the CSMS under uvicorn and `manage.py emulate --once`, both configured
    by the same variables, export to a real receiver; the boot is one trace across both."""
    receiver = http_receiver if protocol == "http/protobuf" else grpc_receiver
    where = "/v1/traces" if protocol == "http/protobuf" else "grpc"
    otel = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }
    Station.objects.create(id="OTLP_E2E", registration_status="Accepted")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    server = AsgiServer("uvicorn")
    server.env = {**{k: v for k, v in server.env.items() if not k.startswith("OTEL_")}, **otel}
    server.start()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "emulate",
                "OTLP_E2E",
                "--once",
                "--url",
                f"{server.url}/ocpp/",
            ],
            cwd=ROOT,
            env={**clean, "DJANGO_SETTINGS_MODULE": "tests.settings", **otel},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        _wait_for(lambda: "ocpp BootNotification" in receiver.span_names(where, "csms"))
        _wait_for(lambda: any(s == "csms" and n == "ocpp.messages" for _, s, n in receiver.metrics))
    finally:
        server.stop()
    emulator = receiver.span_names(where, "csms-emulator")
    assert {"ocpp.station.connection", "ocpp.call BootNotification"} <= emulator
    traces = {
        service: trace_id
        for w, service, name, trace_id in receiver.spans
        if w == where
        and (service, name)
        in {("csms", "ocpp BootNotification"), ("csms-emulator", "ocpp.station.connection")}
    }
    assert traces["csms"] == traces["csms-emulator"], "the handshake carried the trace context"
    assert any(s == "csms-emulator" and n == "ocpp.calls" for _, s, n in receiver.metrics)
