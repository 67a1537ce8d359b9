"""The base class of the per-version protocol objects: the contract with the core, and the checks
that keep a version's functional blocks from stepping on each other.

A protocol object is the handler of the station's `RpcEndpoint`: the endpoint routes each CALL from
the CSMS to the `@on(action)` method of the object's class (the `ocpp` library's routing), calling
it with the payload as snake_case keywords. A version class is composed of block mixins, so two
blocks could route the same action by accident (under two names, or under one name, one hiding
the other), and the `ocpp` library would then pick one silently; `_check_routes` refuses that, and
actions that are not the version's, when the class is defined.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from emulator.core.outbox import OutboxItem
from emulator.core.state import Connector, Reservation, Transaction
from ocppj.rpc import KNOWN_ACTIONS

if TYPE_CHECKING:
    from emulator.station import EmulatedStation

# What a block sends when TriggerMessage asks for one message, given the connectors it concerns.
Trigger = Callable[[list[Connector]], Awaitable[None]]


class ProtocolBase(ABC):
    version: ClassVar[str]  # "1.6" or "2.0.1", set by the composed version class
    subprotocol: ClassVar[str]  # the WebSocket subprotocol of the version

    def __init__(self, station: EmulatedStation) -> None:
        # Blocks with state of their own extend this (cooperatively, calling super().__init__).
        self.station = station

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_routes(cls)

    # --- what the core sends, in the version's shapes ---------------------------------------------

    @abstractmethod
    def boot_payload(self, reason: str = "PowerUp") -> dict[str, Any]: ...

    @abstractmethod
    def status_payload(self, connector: Connector) -> dict[str, Any]: ...

    @abstractmethod
    def authorize_payload(self, id_token: str) -> dict[str, Any]: ...

    @abstractmethod
    def authorization_status(self, answer: dict[str, Any]) -> str:
        """The token's status in an Authorize answer."""

    @abstractmethod
    def enqueue_start(self, tx: Transaction) -> None:
        """Queue the message that starts `tx` (`station.enqueue`)."""

    @abstractmethod
    def enqueue_meter_values(self, tx: Transaction, connector: Connector) -> None:
        """Queue a periodic sample of `connector`, measured now."""

    @abstractmethod
    def enqueue_stop(self, tx: Transaction, meter_wh: float, reason: str) -> None:
        """Queue the message that ends `tx`; `reason` is in the 1.6 vocabulary."""

    @abstractmethod
    def is_meter_message(self, item: OutboxItem) -> bool:
        """Whether a queued message is a periodic sample (the out-of-order fault swaps those)."""

    # --- what the core lets the version decide ----------------------------------------------------

    @abstractmethod
    async def reservation_ended(self, reservation: Reservation, status: str) -> None:
        """Tell the CSMS a reservation ended without being used (status: Expired, Removed)."""

    @abstractmethod
    async def reboot(self) -> None:
        """Carry out a Reset: the core calls it when a Reset that waited for idle may run."""

    def setting_changed(self, key: str) -> None:
        """A setting of the station changed (`emulator.core.device`): blocks that watch settings
        (2.0.1 monitors) extend this, calling super()."""
        return None

    # --- shared by several blocks -----------------------------------------------------------------

    def transaction_ended(self, evse_id: int) -> None:
        """A transaction on `evse_id` has ended: what a block drops with it (its TxProfiles)."""
        return None

    def after_boot(self) -> None:
        """Once the CSMS has accepted a boot: what a block reports then (a block that overrides
        it calls super().after_boot())."""
        return None

    def triggers(self) -> dict[str, Trigger]:
        """The messages TriggerMessage may ask for, and how to send each. A block that sends a
        triggerable message adds it: `return super().triggers() | {"X": self._send_x}`."""
        return {}

    def _connector_for(self, evse_id: int | None, id_token: str = "") -> Connector | None:
        """The connector a command names, or without a name the first one free for this token
        (reservations respected)."""
        station = self.station
        if evse_id is None:
            now = station.now()
            candidates = station.connectors.values()
            return next((c for c in candidates if c.available_for(id_token, now)), None)
        return station.connectors.get(evse_id)


def _check_routes(cls: type) -> None:
    """Refuse a class whose blocks route one action twice, or route actions of another version."""
    routes: dict[str, str] = {}
    for name in dir(cls):
        action = getattr(getattr(cls, name, None), "_on_action", None)
        if action is None:
            continue
        if str(action) in routes:
            raise TypeError(
                f"{cls.__name__}: {action} is handled by both {routes[str(action)]} and {name}"
            )
        routes[str(action)] = name
    # One name defined by two blocks: fine when one extends the other, an accident when they are
    # siblings (the later one in the method order would never be called).
    owners: dict[str, list[type]] = {}
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if getattr(value, "_on_action", None) is not None:
                owners.setdefault(name, []).append(klass)
    for name, classes in owners.items():
        hidden = [other for other in classes[1:] if not issubclass(classes[0], other)]
        if hidden:
            raise TypeError(
                f"{cls.__name__}: {classes[0].__name__}.{name} hides {hidden[0].__name__}.{name}"
            )
    version = cls.__dict__.get("version")
    if version is not None:
        foreign = set(routes) - KNOWN_ACTIONS[version]
        if foreign:
            raise TypeError(f"{cls.__name__}: not OCPP {version} actions: {sorted(foreign)}")
