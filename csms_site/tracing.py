"""Configure OpenTelemetry from the standard environment variables, for the CSMS and the emulator.

- OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set: traces and metrics are
  exported over OTLP/gRPC (Jaeger's all-in-one listens on 4317). Unset: nothing is installed, the
  API stays a no-op, nothing is exported and no export errors are printed.
- OTEL_SERVICE_NAME names the service (defaults `csms` and `csms-emulator`).
- OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG choose the sampler (read by the SDK itself).
- OTEL_METRICS_EXPORTER=none keeps metrics local (Jaeger accepts traces only).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("csms.tracing")
_configured = False


def exporting() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(default_service: str, *, django: bool = True) -> bool:
    """Install the SDK and the instrumentations once; True when telemetry is exported."""
    global _configured
    if _configured or not exporting():
        return _configured
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", default_service)}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if os.environ.get("OTEL_METRICS_EXPORTER", "otlp").lower() != "none":
        metrics.set_meter_provider(
            MeterProvider(
                resource=resource,
                metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())],
            )
        )
    if django:
        instrument_django()
    _configured = True
    logger.info("OpenTelemetry: exporting as %s", resource.attributes["service.name"])
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
