"""Display messages: the message as the CSMS sends it, the checks before it goes, and what the
station's answers and reports mean (O01-O06)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max

from devicemodel import inventory, reports
from devicemodel.models import Report, Variable
from devicemodel.readings import field, status_info
from devicemodel.references import Address, ComponentRef, VariableRef
from displays.models import DisplayMessage
from stations.clock import ocpp_time, parse_ocpp_time
from stations.db import atomic
from stations.remote.forms import InputError

CONTROLLER = "DisplayMessageCtrlr"


@dataclass(frozen=True)
class Message:
    """One MessageInfoType."""

    id: int
    content: str
    priority: str = "NormalCycle"
    format: str = "UTF8"
    language: str = ""
    state: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None
    transaction_id: str = ""

    def wire(self) -> dict[str, Any]:
        content: dict[str, Any] = {"format": self.format, "content": self.content}
        if self.language:
            content["language"] = self.language
        out: dict[str, Any] = {"id": self.id, "priority": self.priority, "message": content}
        if self.state:
            out["state"] = self.state
        if self.start_at:
            out["startDateTime"] = ocpp_time(self.start_at)
        if self.end_at:
            out["endDateTime"] = ocpp_time(self.end_at)
        if self.transaction_id:  # O01.FR.04: only a transaction's message names one
            out["transactionId"] = self.transaction_id
        return out

    def columns(self) -> dict[str, Any]:
        """The DisplayMessage fields this message sets."""
        return {
            "priority": self.priority,
            "state": self.state,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "transaction_id": self.transaction_id,
            "format": self.format,
            "language": self.language,
            "content": self.content[:512],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        content = data["message"]
        return cls(
            int(data["id"]),
            str(content["content"]),
            str(data["priority"]),
            str(content["format"]),
            str(content.get("language") or ""),
            str(data.get("state") or ""),
            parse_ocpp_time(field(data, "startDateTime")),
            parse_ocpp_time(field(data, "endDateTime")),
            str(field(data, "transactionId", "") or ""),
        )


def _supported(station_id: str, name: str) -> list[str]:
    value = inventory.actual_value(station_id, Address(ComponentRef(CONTROLLER), VariableRef(name)))
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _slots(station_id: str) -> int | None:
    variable = Variable.objects.filter(
        component__station_id=station_id, component__name=CONTROLLER, name="DisplayMessages"
    ).first()
    return int(variable.max_limit) if variable is not None and variable.max_limit else None


def next_id(station_id: str) -> int:
    """The CSMS chooses message ids: one above every id it knows on the station."""
    top = DisplayMessage.objects.filter(station_id=station_id).aggregate(top=Max("message_id"))
    return int(top["top"] or 0) + 1


def check(station_id: str, message: Message) -> None:
    """InputError for what the station reported it cannot show: a format or priority it does not
    support, or no free slot for a new message."""
    problems = []
    formats = _supported(station_id, "SupportedFormats")
    if formats and message.format not in formats:
        problems.append(f"the station shows {', '.join(formats)}, not {message.format}")
    priorities = _supported(station_id, "SupportedPriorities")
    if priorities and message.priority not in priorities:
        problems.append(f"the station's priorities are {', '.join(priorities)}")
    slots = _slots(station_id)
    replacing = DisplayMessage.objects.filter(
        station_id=station_id, message_id=message.id, active=True
    ).exists()
    shown = DisplayMessage.objects.filter(station_id=station_id, active=True).count()
    if slots is not None and not replacing and shown >= slots:
        problems.append(f"the station shows at most {slots} messages: clear one first")
    if problems:
        raise InputError("; ".join(problems))


def message_answered(
    station_id: str, message: Message, status: str, info: str = "", *, user: Any = None
) -> DisplayMessage | None:
    """SetDisplayMessage's answer: an Accepted message is on the station (replacing one of the
    same id, O06); a declined one is kept with the station's reason; an undelivered one is not."""
    if not status:
        return None
    fields = {
        **message.columns(),
        "status": status,
        "status_info": info,
        "active": status == "Accepted",
        "requested_by": user if getattr(user, "is_authenticated", False) else None,
    }
    with atomic():
        found, _ = DisplayMessage.objects.update_or_create(
            station_id=station_id, message_id=message.id, defaults=fields
        )
        return found


def cleared(station_id: str, message_id: int, status: str) -> None:
    """ClearDisplayMessage Accepted or Unknown: the station does not show it (any more)."""
    if status in ("Accepted", "Unknown"):
        DisplayMessage.objects.filter(station_id=station_id, message_id=message_id).update(
            active=False, status="Cleared" if status == "Accepted" else "Unknown"
        )


def messages_part(
    station_id: str,
    request_id: int,
    tbc: bool,
    infos: list[dict[str, Any]],
) -> Report:
    """One NotifyDisplayMessages (O03, O04): the messages the station shows. The message has no
    seqNo: parts are counted in arrival order."""

    def store(report: Report) -> int:
        for info in infos:
            message = Message.from_wire(info)
            existing = DisplayMessage.objects.filter(
                station_id=station_id, message_id=message.id
            ).first()
            DisplayMessage.objects.update_or_create(
                station_id=station_id,
                message_id=message.id,
                defaults={
                    **message.columns(),
                    "origin": existing.origin if existing else DisplayMessage.Origin.STATION,
                    "active": True,
                    "reported_in": report.pk,
                },
            )
        return len(infos)

    with atomic():
        report = Report.objects.filter(station_id=station_id, request_id=request_id).first()
        seq_no = len(report.parts) if report is not None else 0
        return reports.receive_part(station_id, request_id, seq_no, tbc, None, store)


def _replace_messages(report: Report) -> None:
    """A complete report of every message (no criteria): what it did not list is not shown."""
    if not report.criteria:
        DisplayMessage.objects.filter(station_id=report.station_id, active=True).exclude(
            reported_in=report.pk
        ).update(active=False)


reports.FINISHERS[str(Report.Kind.DISPLAY)] = _replace_messages


def status_info_of(response: dict[str, Any]) -> str:
    return status_info(field(response, "statusInfo"))
