"""Saturation knee: the highest offered rate a server sustains with p99 latency under 100 ms.

One scenario per message kind: `knee_heartbeat` (in the run's `--ocpp` version), `knee_meter_values_16`
(1.6 MeterValues, 10 samples) and `knee_transaction_event_201` (2.0.1 TransactionEvent Updated, 10
samples). The load is open loop, as in the steady-state scenarios: sends paced at an aggregate rate
from `knee_stations` stations, each with one CALL in flight at most.

The search: steps of `knee_step_seconds` starting at `knee_start_rate`, each `knee_factor` times
the one before, until a step fails (p99 over 100 ms, any error, or a send dropped because every
station still awaited an answer), `knee_max_rate` is reached or `knee_budget_seconds` have passed;
then `knee_refinements` bisections between the last rate that held and the first that failed. The
server settles between steps (its queues drain, its message log is flushed), so a step never pays
for the one before. The knee is the last rate that held; the row shows that step's latencies and
CPU per message, and the knee per worker process (the knee ÷ workers).

What the knee measures on a shared machine is the server *and* the load client competing for the
same cores: the client's CPU share at the knee step is in the notes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench import client
from bench.client import Station, Stats
from bench.scenarios import (
    Cpu,
    Plan,
    Target,
    connect_and_boot,
    failure_notes,
    heartbeat_job,
    measured,
    prime,
    row,
    start_transaction,
)
from bench.server import rss_bytes

P99_BOUND_MS = 100.0
Job = Callable[[Station], tuple[str, str]]


@dataclass
class Step:
    rate: float
    seconds: float
    stats: Stats
    cpu: Cpu
    failure: str  # empty when the step held

    @property
    def held(self) -> bool:
        return not self.failure

    def describe(self) -> str:
        summary = self.stats.summary()
        verdict = "ok" if self.held else f"FAILED ({self.failure})"
        return f"{self.rate:.0f}/s p99 {summary['p99_ms']:.0f} ms {verdict}"

    def as_json(self) -> dict:
        return {
            "rate": self.rate,
            "held": self.held,
            "failure": self.failure,
            "cpu_us_per_msg": self.cpu.server / self.stats.answered * 1e6
            if self.stats.answered
            else None,
            **self.stats.summary(),
        }


def verdict(stats: Stats) -> str:
    """Why a step failed, or '' when it held."""
    summary = stats.summary()
    reasons = []
    if not stats.answered:
        reasons.append("nothing answered")
    elif summary["p99_ms"] > P99_BOUND_MS:
        reasons.append(f"p99 {summary['p99_ms']:.0f} ms")
    if stats.errors:
        reasons.append(f"{stats.errors} errors")
    if stats.missed:
        reasons.append(f"{stats.missed} sends dropped")
    return ", ".join(reasons)


async def run_step(
    target: Target, stations: list[Station], job: Job, rate: float, plan: Plan
) -> Step:
    stats = Stats()
    cpu = await measured(
        target, lambda: client.paced(stations, job, rate, plan.knee_step_seconds, stats)
    )
    return Step(rate, plan.knee_step_seconds, stats, cpu, verdict(stats))


async def find_knee(
    target: Target, stations: list[Station], job: Job, plan: Plan
) -> tuple[Step | None, list[Step]]:
    """Geometric steps up, then bisection. Returns (the last step that held, every step)."""
    await client.paced(stations, job, plan.knee_start_rate, plan.warmup, Stats())  # unmeasured
    deadline = time.monotonic() + plan.knee_budget_seconds
    steps: list[Step] = []
    good: Step | None = None
    bad: Step | None = None
    rate = plan.knee_start_rate
    while rate <= plan.knee_max_rate and time.monotonic() < deadline:
        step = await run_step(target, stations, job, rate, plan)
        steps.append(step)
        if not step.held:
            bad = step
            break
        good = step
        rate = round(rate * plan.knee_factor)
    for _ in range(plan.knee_refinements):
        if bad is None or time.monotonic() >= deadline:
            break
        low = good.rate if good else 0.0
        rate = round((low + bad.rate) / 2)
        if rate <= low or rate >= bad.rate:
            break
        step = await run_step(target, stations, job, rate, plan)
        steps.append(step)
        if step.held:
            good = step
        else:
            bad = step
    return good, steps


async def knee(target: Target, plan: Plan, name: str, kind: str) -> dict:
    """`kind`: "heartbeat" or "meter" (MeterValues in 1.6, TransactionEvent Updated in 2.0.1)."""
    assert target.db is not None
    sent = 0

    def meter_job(station: Station) -> tuple[str, str]:
        nonlocal sent
        sent += 1
        return client.meter_payload(target.version, station)

    job: Job = heartbeat_job if kind == "heartbeat" else meter_job

    async def once(station: Station) -> None:
        if kind == "heartbeat":
            await station.call("Heartbeat", "{}", Stats(), 30)
        elif await start_transaction(target, station, Stats()):
            await station.call(*client.meter_payload(target.version, station), Stats(), 30)

    await prime(target, name, once)
    rss_idle = rss_bytes(target.pid)
    prefix = f"{name}{target.workers}-"
    stations, notes = await connect_and_boot(
        target, [f"{prefix}{i}" for i in range(plan.knee_stations)]
    )
    rss_connected = rss_bytes(target.pid)
    if kind == "meter":
        started = await asyncio.gather(*(start_transaction(target, s, Stats()) for s in stations))
        if not all(started):
            notes.append(f"{started.count(False)} transaction starts failed")
        stations = [s for s, ok in zip(stations, started, strict=True) if ok]
    try:
        good, steps = await find_knee(target, stations, job, plan)
        rss_end = rss_bytes(target.pid)
    finally:
        await client.close_stations(stations)
    shown = good or steps[-1]
    summary = shown.stats.summary()
    knee_rate = good.rate if good else 0.0
    first_bad = next((s for s in steps if not s.held and s.rate > knee_rate), None)
    check = ""
    extra: dict = {}
    if kind == "meter":
        expected = sent * client.SAMPLES_PER_MESSAGE
        stored = await asyncio.to_thread(target.db.meter_samples, prefix)
        check = f"samples stored {stored} {'=' if stored == expected else '≠'} sentx10 = {expected}"
        extra = {"meter_messages_sent": sent, "samples_expected": expected}
        extra |= {"samples_stored": stored, "samples_ok": stored == expected}
        if target.version == "2.0.1":
            events = await asyncio.to_thread(target.db.transaction_events, prefix)
            expected_events = sent + len(stations)  # + one Started each
            check += f"; events stored {events} {'=' if events == expected_events else '≠'}"
            check += f" sent+Started = {expected_events}"
            extra |= {"events_stored": events, "events_ok": events == expected_events}
    client_share = shown.cpu.client / shown.seconds * 100
    return row(
        name,
        target,
        len(stations),
        summary,
        messages=shown.stats.answered,
        cpu=shown.cpu,
        rss_idle=rss_idle,
        rss_connected=rss_connected,
        rss_end=rss_end,
        notes=[
            f"knee {knee_rate:.0f}/s ({knee_rate / target.workers:.0f}/s per worker)"
            if good
            else f"no rate held, down to {steps[-1].rate:.0f}/s",
            f"next {first_bad.describe()}" if first_bad else "no failing step found",
            check,
            f"client CPU {client_share:.0f} % of a core at the knee",
            *notes,
            *failure_notes(summary),
        ],
        knee_rate=knee_rate,
        knee_per_worker=knee_rate / target.workers,
        p99_bound_ms=P99_BOUND_MS,
        steps=[s.as_json() for s in steps],
        **extra,
    )


async def knee_heartbeat(target: Target, plan: Plan) -> dict:
    return await knee(target, plan, "knee_heartbeat", "heartbeat")


async def knee_meter_values_16(target: Target, plan: Plan) -> dict:
    return await knee(replace(target, version="1.6"), plan, "knee_meter_values_16", "meter")


async def knee_transaction_event_201(target: Target, plan: Plan) -> dict:
    return await knee(replace(target, version="2.0.1"), plan, "knee_transaction_event_201", "meter")


SCENARIOS = {
    "knee_heartbeat": knee_heartbeat,
    "knee_meter_values_16": knee_meter_values_16,
    "knee_transaction_event_201": knee_transaction_event_201,
}
