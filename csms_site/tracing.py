"""Configure OpenTelemetry from the standard environment variables, for the CSMS and the emulator.

What is exported, per signal (traces, metrics):

- A signal is exported when its endpoint is set: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
  `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, or the shared `OTEL_EXPORTER_OTLP_ENDPOINT`. No endpoint at
  all: nothing is installed, the API stays a no-op, nothing is exported and no export errors are
  printed (the SDK's own default, localhost, is never assumed).
- `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`: `otlp` (default), `otlp_proto_grpc`,
  `otlp_proto_http`, or `none` (e.g. metrics off when the backend is Jaeger, which takes traces
  only).
- The wire protocol, per signal: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` /
  `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` (default, as
  the Python SDK's auto-configuration does; port 4317) or `http/protobuf` (port 4318).

The exporters are built without arguments, so they read everything else themselves, as the
specification says: the endpoints (OTLP/HTTP appends `/v1/traces` or `/v1/metrics` to the shared
endpoint and takes a per-signal one as it is), `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS`,
`..._TIMEOUT`, `..._COMPRESSION`, `..._CERTIFICATE`, `..._INSECURE`. The SDK reads
`OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_INTERVAL` and
`OTEL_RESOURCE_ATTRIBUTES`; `OTEL_SERVICE_NAME` names the service (defaults `csms` and
`csms-emulator`). A protocol or exporter name we cannot honour stops the start with ValueError,
rather than exporting nothing in silence.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger("csms.tracing")
_configured = False

GRPC = "grpc"
HTTP_PROTOBUF = "http/protobuf"
PROTOCOLS = (GRPC, HTTP_PROTOBUF)
SIGNALS = ("traces", "metrics")
# OTEL_<SIGNAL>_EXPORTER values: the SDK's entry-point names for OTLP, and "none".
_EXPORTER_PROTOCOL = {"otlp_proto_grpc": GRPC, "otlp_proto_http": HTTP_PROTOBUF}


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def endpoint_set(signal: str) -> bool:
    return bool(
        _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def protocol(signal: str) -> str | None:
    """The OTLP protocol `signal` is exported with, or None when it is not exported."""
    exporter = (_env(f"OTEL_{signal.upper()}_EXPORTER") or "otlp").lower()
    if exporter == "none" or not endpoint_set(signal):
        return None
    if exporter in _EXPORTER_PROTOCOL:
        return _EXPORTER_PROTOCOL[exporter]
    if exporter != "otlp":
        raise ValueError(
            f"OTEL_{signal.upper()}_EXPORTER={exporter!r}: this project exports OTLP only "
            "(otlp, otlp_proto_grpc, otlp_proto_http) or nothing (none)"
        )
    chosen = (
        _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
        or _env("OTEL_EXPORTER_OTLP_PROTOCOL")
        or GRPC
    ).lower()
    if chosen not in PROTOCOLS:
        raise ValueError(
            f"OTLP protocol {chosen!r} for {signal} is not supported: use grpc or http/protobuf"
        )
    return chosen


def exporting() -> bool:
    """Whether any signal would be exported (an endpoint is set and the exporter is not none)."""
    return any(protocol(signal) for signal in SIGNALS)


def span_exporter(chosen: str) -> SpanExporter:
    """An OTLP span exporter for `chosen`, configured from the environment by itself."""
    if chosen == HTTP_PROTOBUF:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    return GrpcSpanExporter()


def metric_exporter(chosen: str) -> MetricExporter:
    """An OTLP metric exporter for `chosen`, configured from the environment by itself."""
    if chosen == HTTP_PROTOBUF:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter()
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter as GrpcMetricExporter,
    )

    return GrpcMetricExporter()


def configure_tracing(default_service: str, *, django: bool = True) -> bool:
    """Install the SDK and the instrumentations once; True when telemetry is exported."""
    global _configured
    if _configured:
        return True
    traces, metrics_protocol = protocol("traces"), protocol("metrics")
    if not (traces or metrics_protocol):
        return False
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", default_service)}
    )
    if traces:
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(span_exporter(traces)))
        trace.set_tracer_provider(provider)
    if metrics_protocol:
        metrics.set_meter_provider(
            MeterProvider(
                resource=resource,
                metric_readers=[PeriodicExportingMetricReader(metric_exporter(metrics_protocol))],
            )
        )
    if django:
        instrument_django()
    _configured = True
    logger.info(
        "OpenTelemetry: exporting as %s (traces: %s, metrics: %s)",
        resource.attributes["service.name"],
        traces or "off",
        metrics_protocol or "off",
    )
    return True


def instrument_django() -> None:
    """HTTP request spans and database spans (call before Django builds its middleware)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    if not DjangoInstrumentor().is_instrumented_by_opentelemetry:
        DjangoInstrumentor().instrument()
    if not PsycopgInstrumentor().is_instrumented_by_opentelemetry:
        PsycopgInstrumentor().instrument()
    if not SQLite3Instrumentor().is_instrumented_by_opentelemetry:
        SQLite3Instrumentor().instrument()
