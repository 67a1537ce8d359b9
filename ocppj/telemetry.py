"""OpenTelemetry for OCPP-J: a span per message handled and per CALL sent, and a few metrics.

Only the OpenTelemetry API is used here; whoever runs the endpoint decides whether an SDK exports
anything (`csms_site.tracing`). When no SDK is installed the API's tracer is a no-op, and endpoints
skip span creation altogether (`enabled()`), so tracing off costs one boolean test per frame.

Context crosses the wire once per connection: the station puts the W3C `traceparent` of its
connection span in the WebSocket handshake headers, and the CSMS parents every span of that socket
on it. OCPP payloads are never touched (they must stay schema-valid).
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context

tracer = trace.get_tracer("ocppj")
meter = metrics.get_meter("ocppj")

messages = meter.create_counter(
    "ocpp.messages", unit="{message}", description="CALLs handled, by action, protocol and result"
)
handling_ms = meter.create_histogram(
    "ocpp.handling.duration", unit="ms", description="Time from a CALL in to its answer out"
)
calls = meter.create_counter(
    "ocpp.calls", unit="{call}", description="CALLs sent, by action, protocol and outcome"
)


def enabled() -> bool:
    """Whether an SDK tracer provider is installed (otherwise spans would be no-ops)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def context_from_headers(headers: Mapping[str, str]) -> Context | None:
    """The remote parent carried in handshake headers (`traceparent`), if any."""
    return propagate.extract(headers) if "traceparent" in headers else None


def inject(carrier: dict[str, str]) -> dict[str, str]:
    """Put the current span's context into `carrier` (headers, or a channel-layer event)."""
    propagate.inject(carrier)
    return carrier
