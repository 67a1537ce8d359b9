"""What a station's answer to a command means for the domain, wherever the command came from.

Every command passes through `delivery._record` (REST, dashboard, admin, CLI, a domain's own
service), so that is where the apps that own a command's meaning learn its outcome: the device
model stores the values a GetVariables returned, the history of a SetVariables, the report a
GetBaseReport announced. An app registers a recorder per action (`records`); it runs in the
database thread of the caller, after the command's own record, each in its own transaction, and
a recorder that fails is logged without costing the caller its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from stations.group_commit import RETRIES, retryable
from stations.remote.results import CommandResult, Outcome

logger = logging.getLogger("csms.commands")


@dataclass(frozen=True)
class Answer:
    """A command as sent (`payload`, camelCase) and what became of it."""

    station_id: str
    action: str
    payload: dict[str, Any]
    result: CommandResult
    user: Any
    source: str

    @property
    def answered(self) -> bool:
        return self.result.outcome == Outcome.ANSWERED and self.result.payload is not None

    @property
    def response(self) -> dict[str, Any]:
        """The station's answer (empty when it did not answer)."""
        return (self.result.payload or {}) if self.answered else {}


Recorder = Callable[[Answer], None]
_RECORDERS: dict[str, list[Recorder]] = {}


def records(*actions: str) -> Callable[[Recorder], Recorder]:
    """Declare `recorder` as what the answers to `actions` (either version) mean."""

    def register(recorder: Recorder) -> Recorder:
        for action in actions:
            _RECORDERS.setdefault(action, []).append(recorder)
        return recorder

    return register


def record(answer: Answer) -> None:
    for recorder in _RECORDERS.get(answer.action, ()):
        for attempt in range(RETRIES + 1):
            try:
                with transaction.atomic():
                    recorder(answer)
                break
            except Exception as error:
                # A race lost to a station's own messages about the same rows (PostgreSQL's
                # deadlock_detected): run again, as group commit does.
                if retryable(error) and attempt < RETRIES:
                    continue
                logger.exception(
                    "Recording the answer of %s to %s failed", answer.station_id, answer.action
                )
                break
