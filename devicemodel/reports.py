"""Reports: a request's answer and the parts that follow it, assembled into the inventory.

The station answers GetBaseReport / GetReport first and sends its NotifyReport parts after, but the
two reach the CSMS by different paths (the answer through whichever process sent the command, the
parts through the station's socket), so either may be stored first: both create the report row if
it is not there, and the one that completes it (last part in, kind known) finishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from devicemodel import inventory
from devicemodel.models import OCPP16_COMPONENT, Report
from devicemodel.readings import ConfigurationKey, ReportPart
from stations import events
from stations.clock import utcnow
from stations.db import atomic

# GetBaseReport / GetReport statuses that mean no part will come.
NOTHING_FOLLOWS = {
    "Rejected": Report.Status.REJECTED,
    "NotSupported": Report.Status.NOT_SUPPORTED,
    "EmptyResultSet": Report.Status.EMPTY,
}


def _report(station_id: str, request_id: int) -> Report:
    """The report row, locked (PostgreSQL) for this transaction, created if missing (get_or_create
    takes a savepoint for the insert, so a concurrent insert of the same row is read instead)."""
    report, _ = Report.objects.select_for_update().get_or_create(
        station_id=station_id, request_id=request_id, defaults={"status": Report.Status.RECEIVING}
    )
    return report


def _complete(report: Report) -> bool:
    return report.last_seq_no is not None and not report.missing_parts


# What completing a report of a kind does besides marking it (a FullInventory replaces the
# inventory; other apps register theirs: a monitoring report replaces the station's monitors).
def _replace_inventory(report: Report) -> None:
    inventory.prune(report)


FINISHERS: dict[str, Callable[[Report], None]] = {str(Report.Kind.FULL): _replace_inventory}


def _finish(report: Report) -> None:
    """Mark a report whose parts are all in complete, and do what completing its kind does."""
    report.status = Report.Status.COMPLETE
    report.completed_at = utcnow()
    finish = FINISHERS.get(report.kind)
    if finish is not None:
        finish(report)


def report_answered(
    station_id: str,
    request_id: int,
    kind: str,
    answer: str,
    *,
    criteria: dict[str, Any] | None = None,
    user: Any = None,
) -> Report:
    """The station's answer to a request whose results come as parts (GetBaseReport, GetReport,
    GetMonitoringReport, CustomerInformation, GetDisplayMessages), or Failed: it never answered."""
    with atomic():
        report = _report(station_id, request_id)
        report.kind = kind
        report.criteria = criteria or {}
        if user is not None and getattr(user, "is_authenticated", False):
            report.requested_by = user
        receiving = bool(report.parts)
        if answer == "Accepted":
            if not receiving:
                report.status = Report.Status.ACCEPTED
            elif _complete(report):
                _finish(report)
        elif not receiving:
            report.status = NOTHING_FOLLOWS.get(answer, Report.Status.FAILED)
        report.save()
        return report


def receive_part(
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
    store: Callable[[Report], int],
) -> Report:
    """One part of a report (NotifyReport, NotifyMonitoringReport, NotifyCustomerInformation,
    NotifyDisplayMessages): `store` keeps what it brings and says how many entries. Idempotent
    (a resent part changes nothing), in any order."""
    with atomic():
        report = _report(station_id, request_id)
        if seq_no in report.parts:
            return report
        report.entries += store(report)
        events.publish("configuration", station=station_id)  # the configuration page re-renders
        report.parts = sorted([*report.parts, seq_no])
        if not tbc:
            report.last_seq_no = seq_no
        if generated_at and (report.generated_at is None or seq_no == 0):
            report.generated_at = generated_at
        if report.status != Report.Status.COMPLETE:
            report.status = Report.Status.RECEIVING
        if _complete(report) and report.kind != Report.Kind.UNKNOWN:
            _finish(report)
        elif _complete(report):
            # Not (yet) known as ours: complete, but it replaces nothing until its kind is known.
            report.status = Report.Status.COMPLETE
            report.completed_at = utcnow()
        report.save()
        return report


def report_part(station_id: str, part: ReportPart) -> Report:
    """One NotifyReport: its variables into the inventory."""
    return receive_part(
        station_id,
        part.request_id,
        part.seq_no,
        part.tbc,
        part.generated_at,
        lambda report: inventory.upsert(station_id, part.entries, report),
    )


def configuration_received(
    station_id: str,
    request_id: int,
    keys: list[ConfigurationKey],
    unknown: list[str],
    *,
    asked: list[str],
    user: Any = None,
) -> Report:
    """A 1.6 GetConfiguration answer: the keys as variables of OCPP16_COMPONENT. Asked for every
    key (`asked` empty), it is the station's whole list: keys it no longer has are removed."""
    with atomic():
        report = Report.objects.create(
            station_id=station_id,
            request_id=request_id,
            kind=Report.Kind.CONFIGURATION_16,
            criteria={"keys": asked} if asked else {},
            parts=[0],
            last_seq_no=0,
            unknown_keys=unknown,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            status=Report.Status.COMPLETE,
            completed_at=utcnow(),
        )
        report.entries = inventory.upsert(station_id, [k.entry() for k in keys], report)
        report.save(update_fields=["entries"])
        if not asked:
            inventory.prune(report, component_name=OCPP16_COMPONENT)
        return report
