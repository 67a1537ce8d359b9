"""What tracing costs on the hot path: one Heartbeat routed through an RpcEndpoint, with the
OpenTelemetry API left as its no-op (tracing off, the default) and with an SDK recording every
span (tracing on, exported to memory). Prints microseconds per message.

    .venv/bin/python bench/tracing_overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from ocpp.routing import on
from ocpp.v201.enums import Action

from ocppj import RpcEndpoint

FRAME = '[2,"hb","Heartbeat",{}]'
N, ROUNDS = 20_000, 5


class Station:
    @on(Action.heartbeat)
    def on_heartbeat(self, **_):
        return {"currentTime": "2026-01-01T00:00:00.000Z"}


async def per_message_us() -> float:
    async def send(text: str) -> None:
        pass

    endpoint = RpcEndpoint(version="2.0.1", handler=Station(), send=send, name="BENCH")
    results = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(N):
            await endpoint.receive(FRAME)
        results.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(results)


def main() -> None:
    off = asyncio.run(per_message_us())
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(provider)
    on_ = asyncio.run(per_message_us())
    print(f"Heartbeat through RpcEndpoint, median of {ROUNDS} x {N}:")
    print(f"  tracing off (no SDK):           {off:6.1f} us/message")
    print(f"  tracing on (SDK, every span):   {on_:6.1f} us/message")


if __name__ == "__main__":
    main()
