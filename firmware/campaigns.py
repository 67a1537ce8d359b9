"""Firmware campaigns: one image rolled out over the stations chosen by vendor, model and current
version, in two stages. The **canary** share (`canary_percent` of the stations, at least one) goes
first; once each canary update has succeeded or failed, the success rate of the finished updates
is held to the **gate** (`success_gate` percent): below it the campaign pauses, and an operator
decides (resume, to go on anyway, or cancel); at or above it the **rollout** sends the rest,
still watched by the gate, at most `concurrency` updates in flight. A station that is offline
waits in the queue and gets its update when it is back.

The engine is one cluster job (`campaign_job`, every OCPP_CAMPAIGN_TICK_SECONDS): it fails the
updates that timed out, moves each running campaign on, and sends what its stage allows. Every
decision is on the campaign's rows, so a restart or another worker taking over loses nothing.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from firmware import services
from firmware.models import Campaign, FirmwareImage, FirmwareUpdate
from firmware.services import UpdateOrder
from stations import events
from stations.clock import utcnow
from stations.db import atomic, in_db_thread
from stations.models import Station
from stations.remote.catalog import request_id
from stations.remote.results import CommandRefused, CommandResult, Outcome

Q_PENDING = Q(outcome=FirmwareUpdate.Outcome.PENDING)
Q_QUEUED = Q(outcome=FirmwareUpdate.Outcome.QUEUED)
Q_INSTALLED = Q(outcome=FirmwareUpdate.Outcome.INSTALLED)
Q_FAILED = Q(outcome=FirmwareUpdate.Outcome.FAILED)


def targets(image: FirmwareImage, vendor: str, model: str, from_version: str) -> list[str]:
    stations = Station.objects.all()
    for field, value in (("vendor", vendor or image.vendor), ("model", model or image.model)):
        if value:
            stations = stations.filter(**{field: value})
    if from_version:
        stations = stations.filter(firmware_version=from_version)
    return list(
        stations.exclude(firmware_version=image.version).order_by("id").values_list("id", flat=True)
    )


def create(
    name: str,
    image: FirmwareImage,
    *,
    vendor: str = "",
    model: str = "",
    from_version: str = "",
    canary_percent: int = 10,
    success_gate: int = 90,
    concurrency: int = 20,
    user: Any = None,
) -> Campaign:
    """A running campaign with its updates queued (the first `canary_percent` of the stations,
    in identity order, are the canaries)."""
    with atomic():
        campaign = Campaign.objects.create(
            name=name[:120],
            image=image,
            vendor=vendor,
            model=model,
            from_version=from_version,
            canary_percent=max(1, min(canary_percent, 100)),
            success_gate=max(0, min(success_gate, 100)),
            concurrency=max(1, concurrency),
            created_by=user if getattr(user, "pk", None) else None,
        )
        chosen = targets(image, vendor, model, from_version)
        canaries = max(1, math.ceil(len(chosen) * campaign.canary_percent / 100)) if chosen else 0
        FirmwareUpdate.objects.bulk_create(
            FirmwareUpdate(
                station_id=station_id,
                image=image,
                campaign=campaign,
                canary=index < canaries,
                outcome=FirmwareUpdate.Outcome.QUEUED,
                requested_by=campaign.created_by,
            )
            for index, station_id in enumerate(chosen)
        )
        if not chosen:
            campaign.state, campaign.finished_at = Campaign.State.COMPLETED, utcnow()
            campaign.save(update_fields=["state", "finished_at"])
        events.publish("campaign", id=campaign.pk)
        return campaign


@dataclass(frozen=True)
class Progress:
    total: int
    queued: int
    pending: int
    installed: int
    failed: int
    canary_total: int
    canary_left: int  # canaries queued or in flight

    @property
    def finished(self) -> int:
        return self.installed + self.failed

    @property
    def success_rate(self) -> float | None:
        return 100.0 * self.installed / self.finished if self.finished else None


def progress(campaign_id: int) -> Progress:
    counts = FirmwareUpdate.objects.filter(campaign_id=campaign_id).aggregate(
        total=Count("pk"),
        queued=Count("pk", filter=Q_QUEUED),
        pending=Count("pk", filter=Q_PENDING),
        installed=Count("pk", filter=Q_INSTALLED),
        failed=Count("pk", filter=Q_FAILED),
        canary_total=Count("pk", filter=Q(canary=True)),
        canary_left=Count("pk", filter=Q(canary=True) & (Q_QUEUED | Q_PENDING)),
    )
    return Progress(**counts)


def _advance(campaign: Campaign) -> list[tuple[int, str, str]]:
    """Move one running campaign on (gate, stage, end); the updates to send now:
    (update, station, protocol)."""
    now = progress(campaign.pk)
    rate = now.success_rate
    if campaign.stage == Campaign.Stage.CANARY and now.canary_left == 0:
        if rate is not None and rate < campaign.success_gate:
            return _pause(
                campaign,
                f"canary success {rate:.0f} % is below the gate of {campaign.success_gate} %",
            )
        campaign.stage = Campaign.Stage.ROLLOUT
        campaign.save(update_fields=["stage"])
        events.publish("campaign", id=campaign.pk)
    elif (
        campaign.stage == Campaign.Stage.ROLLOUT
        and not campaign.paused_reason.startswith("resumed")
        and rate is not None
        and now.finished > now.canary_total
        and rate < campaign.success_gate
    ):
        return _pause(
            campaign, f"success {rate:.0f} % fell below the gate of {campaign.success_gate} %"
        )
    if now.queued == 0 and now.pending == 0:
        campaign.state, campaign.finished_at = Campaign.State.COMPLETED, utcnow()
        campaign.save(update_fields=["state", "finished_at"])
        events.publish("campaign", id=campaign.pk)
        return []
    room = campaign.concurrency - now.pending
    if room <= 0:
        return []
    queued = FirmwareUpdate.objects.filter(
        campaign=campaign, outcome=FirmwareUpdate.Outcome.QUEUED, station__connected=True
    )
    if campaign.stage == Campaign.Stage.CANARY:
        queued = queued.filter(canary=True)
    return list(queued.order_by("pk").values_list("pk", "station_id", "station__protocol")[:room])


def _pause(campaign: Campaign, reason: str) -> list[tuple[int, str, str]]:
    campaign.state, campaign.paused_reason = Campaign.State.PAUSED, reason[:300]
    campaign.save(update_fields=["state", "paused_reason"])
    events.publish("campaign", id=campaign.pk)
    return []


def due() -> list[tuple[int, str, str]]:
    """One tick's decisions: timed-out updates failed, each running campaign moved on; the
    updates to send, each marked in flight so that no other tick sends it again."""
    services.time_out()
    sends: list[tuple[int, str, str]] = []
    for campaign in Campaign.objects.filter(state=Campaign.State.RUNNING).select_related("image"):
        with atomic():
            chosen = _advance(campaign)
            FirmwareUpdate.objects.filter(pk__in=[pk for pk, _, _ in chosen]).update(
                outcome=FirmwareUpdate.Outcome.PENDING, sent_at=utcnow()
            )
            sends.extend(chosen)
    return sends


async def send(
    update_pk: int, station_id: str, protocol: str, order: UpdateOrder, *, user: Any, source: str
) -> tuple[str, CommandResult]:
    """Send one update (a campaign's, or an operator's single one) and record the answer."""
    from stations.remote.delivery import send_command  # the remote layer sits above this app

    number = request_id()
    action, payload = await in_db_thread(services.prepare)(update_pk, protocol, order, number)
    try:
        result = await send_command(station_id, action, payload, requested_by=user, source=source)
    except CommandRefused as refused:
        await in_db_thread(services.answered)(update_pk, "")
        await in_db_thread(_unsent)(update_pk, refused.message)
        raise
    if result.outcome == Outcome.NOT_CONNECTED:
        await in_db_thread(_unsent)(update_pk, "The station was not connected")
    elif result.outcome == Outcome.ANSWERED:
        answer = (result.payload or {}).get("status") or "Accepted"  # 1.6's is empty
        await in_db_thread(services.answered)(update_pk, str(answer))
    else:  # no answer, or an error for one: it will not install what it did not take
        await in_db_thread(services.unanswered)(update_pk, f"{action}: {result.outcome}")
    return f"{action} #{number}", result


def _unsent(update_pk: int, why: str) -> None:
    FirmwareUpdate.objects.filter(pk=update_pk).update(
        outcome=FirmwareUpdate.Outcome.QUEUED, problem=why[:300], sent_at=None
    )


async def tick() -> str:
    sends = await in_db_thread(due)()

    async def one(pk: int, station_id: str, protocol: str) -> bool:
        try:
            await send(pk, station_id, protocol, UpdateOrder(), user=None, source="campaign")
            return True
        except CommandRefused:
            return False  # offline meanwhile: queued again

    sent = sum(await asyncio.gather(*(one(*s) for s in sends)))
    return f"sent {sent} firmware updates" if sent else ""


def campaign_job() -> Any:
    from django.conf import settings

    from stations.background import Job, Scope

    return Job(
        "firmware campaigns",
        Scope.CLUSTER,
        "OCPP_CAMPAIGN_TICK_SECONDS",
        lambda: settings.OCPP_CAMPAIGN_TICK_SECONDS,
        tick,
    )


def pause(campaign_id: int, reason: str = "paused by an operator") -> Campaign:
    with atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.state == Campaign.State.RUNNING:
            _pause(campaign, reason)
        return campaign


def resume(campaign_id: int) -> Campaign:
    """Go on: past a gate that paused it too (the operator's decision), into the rollout."""
    with atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.state == Campaign.State.PAUSED:
            campaign.state = Campaign.State.RUNNING
            if campaign.paused_reason and "gate" in campaign.paused_reason:
                campaign.stage = Campaign.Stage.ROLLOUT
                campaign.paused_reason = f"resumed past: {campaign.paused_reason}"[:300]
            else:
                campaign.paused_reason = ""
            campaign.save(update_fields=["state", "stage", "paused_reason"])
            events.publish("campaign", id=campaign.pk)
        return campaign


def cancel(campaign_id: int) -> Campaign:
    """Stop: the queued updates are cancelled; those in flight finish on their own."""
    with atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.state in (Campaign.State.RUNNING, Campaign.State.PAUSED):
            FirmwareUpdate.objects.filter(
                campaign=campaign, outcome=FirmwareUpdate.Outcome.QUEUED
            ).update(
                outcome=FirmwareUpdate.Outcome.CANCELLED,
                problem="The campaign was cancelled",
                finished_at=utcnow(),
            )
            campaign.state, campaign.finished_at = Campaign.State.CANCELLED, utcnow()
            campaign.save(update_fields=["state", "finished_at"])
            events.publish("campaign", id=campaign.pk)
        return campaign
