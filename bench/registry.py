"""Every scenario by name, for bench.run and bench.profile.

Each module keeps its own scenarios (bench/scenarios.py the steady-state ones and the shared
steps; capacity, knee and backlog the rest); this is the one place that lists them all, in the order
a full run runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench import backlog, capacity, knee, scenarios
from bench.scenarios import Plan, Target

Scenario = Callable[[Target, Plan], Awaitable[dict]]

SCENARIOS: dict[str, Scenario] = {
    **scenarios.SCENARIOS,
    "idle_capacity": capacity.idle_capacity,
    **knee.SCENARIOS,
    **backlog.SCENARIOS,
}
# Run against bench/bare_csms.py instead of the CSMS: the heartbeat scenario once; the meter values
# scenario once per database, with the `--orm` variant (one ORM insert per sample).
BASELINE = "baseline_ocpp_lib"
BASELINE_ORM = "baseline_orm_per_sample"

# Seconds a scenario may take before it is failed (the others: bench.run.SCENARIO_TIMEOUT).
TIMEOUTS = {
    "idle_capacity": 900.0,
    **{name: 600.0 for name in knee.SCENARIOS},
}


def function(name: str) -> Scenario:
    if name == BASELINE:
        return scenarios.baseline_ocpp_lib
    if name == BASELINE_ORM:
        return scenarios.baseline_orm_per_sample
    return SCENARIOS[name]
