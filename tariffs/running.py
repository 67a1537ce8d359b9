"""The running cost (I02.FR.01: the CSMS sends CostUpdated at a relevant interval, or the running
cost in the TransactionEvent answer; OCPP 2.0.1 allows totalCost in that answer only once the
session has ended, so the running cost goes in CostUpdated).

One cluster job, every OCPP_COST_UPDATE_SECONDS: each 2.0.1 session under way whose cost has
moved by OCPP_COST_UPDATE_STEP or more since the station last accepted one is sent its cost, a
bounded number at a time. A station that is offline is told at a later tick.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from django.conf import settings

from stations.db import in_db_thread
from tariffs import services
from tariffs.remote import wire_cost

IN_FLIGHT = 100


async def _tell(cost: services.RunningCost, gate: asyncio.Semaphore) -> bool:
    from stations.remote.delivery import send_command
    from stations.remote.results import CommandRefused, Outcome

    payload = {"totalCost": wire_cost(cost.total), "transactionId": cost.transaction_id}
    async with gate:
        try:
            result = await send_command(cost.station_id, "CostUpdated", payload, source="tariffs")
        except CommandRefused:
            return False
    return result.outcome == Outcome.ANSWERED


async def tick() -> str:
    step = Decimal(str(settings.OCPP_COST_UPDATE_STEP))
    due = await in_db_thread(services.running_costs)(step)
    gate = asyncio.Semaphore(IN_FLIGHT)
    told = await asyncio.gather(*(_tell(cost, gate) for cost in due))
    return f"sent {sum(told)} of {len(due)} running costs" if due else ""


def running_cost_job() -> Any:
    from stations.background import Job, Scope

    return Job(
        "running cost",
        Scope.CLUSTER,
        "OCPP_COST_UPDATE_SECONDS",
        lambda: settings.OCPP_COST_UPDATE_SECONDS,
        tick,
    )
