"""Every command the CSMS sends to a station, declared once.

A `CommandSpec` says, for one thing an operator can ask of a station:

- its OCPP action in each version (`actions`);
- the operator's input, typed (`input`: a frozen dataclass whose `from_form` reads a dashboard or
  admin form and whose defaults are the common case), and how that input becomes each version's
  payload (`build`);
- the payload to send when an operator gives none (`default`: the input's defaults, or a lookup
  such as the active transaction to stop; none for commands that need data the CSMS cannot guess);
- how the station's answer is judged (`accepts`: the statuses meaning "done or will do");
- the operator's form on the station page (the input's `fields`, the spec's `buttons`:
  `stations.remote.forms`);
- what must be confirmed before sending (`confirm`), and, for commands with a domain of their own,
  the service that performs them (`perform`, e.g. `reservations.remote`: a reservation is claimed
  first and its status follows the station's answer).

The REST API (`POST /api/stations/<id>/commands/<Action>/`), the admin's actions, the dashboard's
buttons and `manage.py ocpp_command` all derive from these declarations: which actions exist per
version, defaults, validation and the verdict (`stations.remote.verdict`). Adding a command is one
declaration here (or in its app's own `remote` module, registered with `register`) plus its tests:
see docs/architecture.md, "Adding a command".

Sync and ORM-bound where a default needs the database: async callers go through
`stations.db.in_db_thread`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from stations.models import Transaction
from stations.remote.forms import (
    Button,
    Choice,
    Form,
    FormField,
    FormInput,
    InputError,
    Number,
    Page,
)
from stations.remote.results import CommandResult
from stations.remote.verdict import ACCEPTED_STATUSES

V16, V201 = "1.6", "2.0.1"
VERSIONS = (V16, V201)

REMOTE_ID_TOKEN = "CSMS-REMOTE"
VENDOR_ID = "org.example.csms"
HARD_RESET_WARNING = "A hard reset interrupts charging: tick the box to confirm it"

# OCPP integers are 32-bit in practice; a millisecond clock folded into that range repeats only
# every ~23 days, long enough for a station never to see a stale id reused.
_ID_RANGE = 2_000_000_000
_id_lock = threading.Lock()
_last_id = 0


class NotFound(InputError):
    """The input names something that does not exist (another station's reservation)."""


class NoDefaultPayload(ValueError):
    """There is no sensible payload to invent; the caller must supply one. The message says why,
    without saying how (a shell says `--payload`, the API says the request body)."""


def request_id() -> int:
    """A positive id from the clock that differs on every call, even within one millisecond:
    stations match reports and remote starts to requests by it."""
    global _last_id
    with _id_lock:
        candidate = int(time.time() * 1000) % _ID_RANGE + 1
        if candidate <= _last_id < candidate + _ID_RANGE // 2:
            candidate = _last_id + 1
        _last_id = candidate
        return candidate


@dataclass(frozen=True)
class Target:
    """The station a command goes to, as far as building its payload needs."""

    station_id: str
    protocol: str


class OperatorInput(Protocol):
    """A command's typed input: a frozen dataclass read from a form (`from_form`), or built
    from its defaults; `fields` are its form's controls (`FormInput` reads them)."""

    fields: ClassVar[tuple[FormField, ...]]

    @classmethod
    def from_form(cls, form: Form) -> Self: ...


In = TypeVar("In", bound=OperatorInput)


@dataclass(frozen=True)
class CommandSpec(Generic[In]):
    name: str  # the operator's name: the dashboard's URL segment, the admin's
    label: str
    actions: Mapping[str, str]  # OCPP version -> action
    input: type[In] | None = None  # None: the payload itself is the input (REST, CLI)
    build: Callable[[In, Target], dict[str, Any]] | None = None
    # The input when the operator gave none; None: no default. Default: the input's own defaults.
    default: Callable[[Target], In] | None = None
    fixed_default: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per version
    accepts: frozenset[str] = ACCEPTED_STATUSES
    confirm: Callable[[In, Form], str | None] | None = None  # what must be confirmed, if anything
    # A domain service that performs the command instead of a plain send: (input, station id,
    # user, source) -> (what was sent, its result), e.g. "ReserveNow #12".
    perform: Callable[[In, str, Any, str], Awaitable[tuple[str, CommandResult]]] | None = None
    # The typed input from a wire payload (REST, CLI), for a command with `perform`: a payload then
    # goes through the service as a form's input does (checked, split to the station's limits,
    # recorded). Without it, a payload is sent as it is.
    parse: Callable[[dict[str, Any], Target], In] | None = None
    # Its forms on the station page: one button with the input's fields unless told otherwise;
    # on_page=False for a command whose button lives elsewhere (a reservation's cancel, per row).
    buttons: tuple[Button, ...] = ()
    on_page: bool = True

    def page_buttons(self, anywhere: bool = False) -> tuple[Button, ...]:
        """The forms the station page shows for this command (none without a typed input);
        `anywhere`: also for a command whose forms live on another page (`on_page=False`)."""
        if self.input is None or not (self.on_page or anywhere):
            return ()
        return self.buttons or (Button(self.label),)

    def action(self, protocol: str) -> str | None:
        return self.actions.get(protocol)

    def read(self, form: Form) -> In:
        """The typed input from an operator's form; InputError when it is incomplete."""
        if self.input is None:
            raise InputError(f"{self.label} takes no form")
        return self.input.from_form(form)

    def payload(self, value: In, target: Target) -> tuple[str, dict[str, Any]]:
        """(OCPP action, payload) for the station."""
        action = self.actions.get(target.protocol)
        if action is None or self.build is None:
            raise InputError(f"{self.label} is not a command of OCPP {target.protocol}")
        return action, self.build(value, target)

    def default_payload(self, target: Target) -> dict[str, Any]:
        """The payload when the operator gave none: NoDefaultPayload when there is no sensible
        one (or it needs data the CSMS does not have)."""
        action = self.actions[target.protocol]
        if target.protocol in self.fixed_default:
            return dict(self.fixed_default[target.protocol])
        if self.build is not None and self.input is not None:
            value = self.default(target) if self.default else self.input()
            return self.build(value, target)
        raise NoDefaultPayload(f"{action} has no default payload in OCPP {target.protocol}")


_SPECS: dict[str, CommandSpec[Any]] = {}
_BY_ACTION: dict[tuple[str, str], CommandSpec[Any]] = {}


def register(spec: CommandSpec[Any]) -> CommandSpec[Any]:
    """Declare a command (apps with a domain of their own declare theirs in their `remote`)."""
    if spec.name in _SPECS:
        raise ValueError(f"Command {spec.name!r} is declared twice")
    for protocol, action in spec.actions.items():
        if (protocol, action) in _BY_ACTION:
            raise ValueError(f"{action} ({protocol}) is declared twice")
        _BY_ACTION[protocol, action] = spec
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Withdraw a declaration (tests that declare a command of their own)."""
    spec = _SPECS.pop(name)
    for protocol, action in spec.actions.items():
        del _BY_ACTION[protocol, action]


def spec_named(name: str) -> CommandSpec[Any]:
    """The command an operator's button or admin action names; InputError for an unknown one."""
    try:
        return _SPECS[name]
    except KeyError:
        raise InputError(f"Unknown action: {name}") from None


def specs() -> tuple[CommandSpec[Any], ...]:
    """Every declared command, in the order of declaration."""
    return tuple(_SPECS.values())


def spec_for(protocol: str, action: str) -> CommandSpec[Any] | None:
    """The declaration behind an OCPP action of a version, None if the CSMS does not send it."""
    return _BY_ACTION.get((protocol, action))


def default_payload(action: str, protocol: str, station_id: str) -> dict[str, Any]:
    """The payload of `action` when the operator gave none (see `CommandSpec.default_payload`)."""
    spec = spec_for(protocol, action)
    if spec is None:
        raise NoDefaultPayload(f"{action} is not a command of OCPP {protocol}")
    return spec.default_payload(Target(station_id, protocol))


class _ActionsByVersion(Mapping[str, tuple[str, ...]]):
    """What the CSMS may send, per version, from the declarations (station-initiated actions are
    not commands): `CSMS_ACTIONS["1.6"]`."""

    def __getitem__(self, protocol: str) -> tuple[str, ...]:
        if protocol not in VERSIONS:
            raise KeyError(protocol)
        return tuple(sorted(a for (p, a) in _BY_ACTION if p == protocol))

    def __iter__(self) -> Iterator[str]:
        return iter(VERSIONS)

    def __len__(self) -> int:
        return len(VERSIONS)


CSMS_ACTIONS: Mapping[str, tuple[str, ...]] = _ActionsByVersion()


def both(action: str) -> dict[str, str]:
    return {V16: action, V201: action}


# --- the commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetInput(FormInput):
    hard: bool = False

    @classmethod
    def from_form(cls, form: Form) -> ResetInput:
        return cls(hard=form.get("type", "hard") == "hard")


def _reset(value: ResetInput, target: Target) -> dict[str, Any]:
    if target.protocol == V16:
        return {"type": "Hard" if value.hard else "Soft"}
    return {"type": "Immediate" if value.hard else "OnIdle"}


def _confirm_reset(value: ResetInput, form: Form) -> str | None:
    """A hard reset interrupts charging at once: the operator must have ticked the box (the form's
    `required` checkbox, `confirm=yes`). Checked here too, so no client can skip it."""
    return HARD_RESET_WARNING if value.hard and form.get("confirm") != "yes" else None


RESET = register(
    CommandSpec(
        "reset",
        "Reset",
        both("Reset"),
        ResetInput,
        _reset,
        confirm=_confirm_reset,
        buttons=(
            Button("Soft reset (on idle)", preset={"type": "soft"}),
            Button(
                "Hard reset",
                preset={"type": "hard"},
                confirm="interrupt any charging session now",
                danger=True,
            ),
        ),
    )
)


EVSE = Number("evse_id", "EVSE", default=1, minimum=1)


@dataclass(frozen=True)
class UnlockInput(FormInput):
    evse_id: int = 1

    fields = (EVSE,)


def _unlock(value: UnlockInput, target: Target) -> dict[str, Any]:
    if target.protocol == V16:
        return {"connectorId": value.evse_id}
    return {"evseId": value.evse_id, "connectorId": 1}


UNLOCK = register(
    CommandSpec("unlock", "Unlock connector", both("UnlockConnector"), UnlockInput, _unlock)
)


# Remote start (F01/F02, 1.6 RemoteStartTransaction) is declared in `smartcharging.remote`: it may
# carry a charging limit (K05), checked and recorded as that app's profiles are.


def _active_on_page(page: Page) -> list[tuple[str, str]]:
    return [(str(tx.transaction_id), str(tx.transaction_id)) for tx in page.get("active", ())]


@dataclass(frozen=True)
class RemoteStopInput(FormInput):
    transaction_id: str  # 1.6: the CSMS's own number; 2.0.1: the station's id

    fields = (
        Choice(
            "transaction_id",
            "Transaction",
            options=_active_on_page,
            empty="no active transaction",
            live="remote-stop-target",
        ),
    )


def _remote_stop(value: RemoteStopInput, target: Target) -> dict[str, Any]:
    if target.protocol == V16:  # the CSMS's own transaction number
        if not value.transaction_id.isdigit():
            raise InputError("transaction_id must be a number")
        return {"transactionId": int(value.transaction_id)}
    return {"transactionId": value.transaction_id}


def _active_transaction(target: Target) -> RemoteStopInput:
    """A stop without a transaction id stops the station's newest active transaction."""
    rows = Transaction.objects.filter(station_id=target.station_id, is_active=True)
    # 1.6 rows have no station-chosen id; 2.0.1 rows always have one.
    rows = rows.filter(ocpp_id__isnull=target.protocol == V16)
    tx = rows.order_by("-started_at", "-pk").first()
    if tx is None:
        raise NoDefaultPayload(
            f"{target.station_id} has no active transaction: the stop needs a transaction id "
            "(e.g. '{\"transactionId\": ...}')"
        )
    return RemoteStopInput(str(tx.pk if target.protocol == V16 else tx.ocpp_id))


REMOTE_STOP = register(
    CommandSpec(
        "remote-stop",
        "Remote stop",
        {V16: "RemoteStopTransaction", V201: "RequestStopTransaction"},
        RemoteStopInput,
        _remote_stop,
        default=_active_transaction,
    )
)


STATION_OR_EVSE = Number("evse_id", "EVSE (0 = station)", default=0, minimum=0)
OPERATIONAL = Choice(
    "state",
    "State",
    (("operative", "Operative"), ("inoperative", "Inoperative")),
    default="operative",
)


@dataclass(frozen=True)
class AvailabilityInput(FormInput):
    operative: bool = True
    evse_id: int = 0  # 0: the whole station

    fields = (STATION_OR_EVSE, OPERATIONAL)

    @classmethod
    def from_form(cls, form: Form) -> AvailabilityInput:
        return cls(
            operative=OPERATIONAL.read(form) == "operative",
            evse_id=STATION_OR_EVSE.read_int(form),
        )


def _availability(value: AvailabilityInput, target: Target) -> dict[str, Any]:
    kind = "Operative" if value.operative else "Inoperative"
    if target.protocol == V16:
        return {"connectorId": value.evse_id, "type": kind}
    payload: dict[str, Any] = {"operationalStatus": kind}
    if value.evse_id:
        payload["evse"] = {"id": value.evse_id}
    return payload


AVAILABILITY = register(
    CommandSpec(
        "availability",
        "Change availability",
        both("ChangeAvailability"),
        AvailabilityInput,
        _availability,
    )
)


# What the station page offers to trigger: the messages both versions' TriggerMessage knows.
TRIGGERABLE = ("StatusNotification", "Heartbeat", "MeterValues", "BootNotification")


@dataclass(frozen=True)
class TriggerInput(FormInput):
    message: str = "StatusNotification"

    fields = (Choice("message", "Message", tuple((m, m) for m in TRIGGERABLE)),)


TRIGGER = register(
    CommandSpec(
        "trigger",
        "Trigger message",
        both("TriggerMessage"),
        TriggerInput,
        lambda value, target: {"requestedMessage": value.message},
    )
)


def _raw(
    name: str,
    label: str,
    actions: Mapping[str, str],
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> CommandSpec[Any]:
    """A command whose input is its payload (REST, CLI), with a fixed default where one is
    harmless. The later functional blocks (device model, smart charging, firmware…) give these
    typed inputs of their own."""
    return register(CommandSpec(name, label, actions, fixed_default=defaults or {}))


@dataclass(frozen=True)
class NoInput(FormInput):
    """A command that takes nothing: its form is its button."""


CLEAR_CACHE = register(
    CommandSpec(
        "clear-cache",
        "Clear authorization cache",
        both("ClearCache"),
        NoInput,
        lambda value, target: {},
    )
)
_raw(
    "data-transfer",
    "Data transfer",
    both("DataTransfer"),
    {V16: {"vendorId": VENDOR_ID}, V201: {"vendorId": VENDOR_ID}},
)
_raw("transaction-status", "Get transaction status", {V201: "GetTransactionStatus"}, {V201: {}})
