"""Keeping each station's local list what the CSMS wants: the plan of an update, and what the
station's answers mean.

- **Full or differential.** While the CSMS knows what the station holds (every update since the
  last Full was accepted, and GetLocalListVersion agrees), an update sends only the difference:
  changed tokens with their info, removed tokens without (D01.FR.16/17, 1.6 §5.15). When it does
  not (no update yet, a VersionMismatch or Failed answer, a station that reports another version or
  lost its list), the next update is Full (D01.FR.04).
- **Within the station's limits.** At most ItemsPerMessage entries a message (2.0.1
  LocalAuthListCtrlr.ItemsPerMessage and BytesPerMessage, 1.6 SendLocalListMaxLength; D01.FR.11),
  as the station reported them in its device model or configuration keys; a longer Full list goes
  as one Full message and Differential ones after it, each with the next version. A list longer
  than the station holds (LocalAuthListCtrlr.Entries' maxLimit, 1.6 LocalAuthListMaxLength;
  D01.FR.12) is not sent: the station's list shows as too large.
- **Versions above 0** (D01.FR.18), each update one above the last the station accepted (or
  reported), so a Differential is never a VersionMismatch.
- **One entry per token** (D01.FR.06): tokens are unique in the CSMS.
- **The answer decides.** The CSMS's view of the station's list changes only when the station
  accepted an update: whoever sent it (the sync, an operator, a raw REST payload), the recorder of
  SendLocalList's answers applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from devicemodel import changes, inventory
from devicemodel.models import OCPP16_COMPONENT, Variable
from devicemodel.references import Address, ComponentRef, VariableRef
from locallists.models import AuthorizationList, ListEntry, ListUpdate, StationList
from stations.clock import ocpp_time, parse_ocpp_time, utcnow
from stations.db import atomic
from stations.models import AuthorizationStatus, IdToken, Station

V16 = "1.6"
TAG_MAX_16 = 20  # 1.6 idTag is CiString20
LIST_KEY = "localAuthorizationList"
CONTROLLER = "LocalAuthListCtrlr"


@dataclass(frozen=True)
class Entry:
    """A token as a local list holds it."""

    token: str
    token_type: str
    status: str
    expires_at: datetime | None = None
    group_token: str = ""

    def wire(self, protocol: str) -> dict[str, Any]:
        if protocol == V16:
            info: dict[str, Any] = {"status": self.status}
            if self.expires_at:
                info["expiryDate"] = ocpp_time(self.expires_at)
            if self.group_token:
                info["parentIdTag"] = self.group_token
            return {"idTag": self.token, "idTagInfo": info}
        info = {"status": self.status}
        if self.expires_at:
            info["cacheExpiryDateTime"] = ocpp_time(self.expires_at)
        if self.group_token:
            info["groupIdToken"] = {"idToken": self.group_token, "type": "Central"}
        return {
            "idToken": {"idToken": self.token, "type": self.token_type or "ISO14443"},
            "idTokenInfo": info,
        }


def removal(token: str, token_type: str, protocol: str) -> dict[str, Any]:
    """A Differential entry without its info: the token is removed."""
    if protocol == V16:
        return {"idTag": token}
    return {"idToken": {"idToken": token, "type": token_type or "ISO14443"}}


def from_wire(item: dict[str, Any]) -> tuple[str, Entry | None]:
    """(token, its entry or None for a removal) from either version's AuthorizationData."""
    if "idTag" in item:
        info = item.get("idTagInfo")
        token, token_type = str(item["idTag"]), ""
        if info is None:
            return token, None
        return token, Entry(
            token,
            token_type,
            str(info["status"]),
            parse_ocpp_time(info.get("expiryDate")),
            str(info.get("parentIdTag") or ""),
        )
    id_token = item["idToken"]
    token, token_type = str(id_token["idToken"]), str(id_token.get("type") or "")
    info = item.get("idTokenInfo")
    if info is None:
        return token, None
    group = info.get("groupIdToken") or {}
    return token, Entry(
        token,
        token_type,
        str(info["status"]),
        parse_ocpp_time(info.get("cacheExpiryDateTime")),
        str(group.get("idToken") or ""),
    )


# --- what the CSMS wants, what the station holds --------------------------------------------------


def desired(station_list: StationList, protocol: str) -> dict[str, Entry]:
    chosen: AuthorizationList | None = station_list.list
    if chosen is None:
        return {}
    tokens = IdToken.objects.all() if chosen.all_tokens else chosen.tokens.all()
    now = utcnow()
    wanted: dict[str, Entry] = {}
    for token in tokens.select_related("parent").order_by("token"):
        if protocol == V16 and len(token.token) > TAG_MAX_16:
            continue  # a 1.6 idTag has at most 20 characters: such a token cannot be listed
        status = token.status
        if status == AuthorizationStatus.ACCEPTED and token.expires_at and token.expires_at <= now:
            status = AuthorizationStatus.EXPIRED
        wanted[token.token] = Entry(
            token.token,
            "" if protocol == V16 else token.type,
            status,
            _to_milliseconds(token.expires_at),
            token.parent.token if token.parent else "",
        )
    return wanted


def _to_milliseconds(value: datetime | None) -> datetime | None:
    """As the station gets it (OCPP times are sent to the millisecond)."""
    return None if value is None else value.replace(microsecond=value.microsecond // 1000 * 1000)


def held(station_list: StationList) -> dict[str, Entry]:
    return {
        e.token: Entry(e.token, e.token_type, e.status, e.expires_at, e.group_token)
        for e in station_list.entries.all()
    }


def station_list(station_id: str) -> StationList:
    found, _ = StationList.objects.select_related("list", "station").get_or_create(
        station_id=station_id
    )
    return found


# --- the station's limits ---------------------------------------------------------------------------


def _value(station_id: str, component: str, variable: str) -> int | None:
    address = Address(ComponentRef(component), VariableRef(variable))
    return changes.positive_int(inventory.actual_value(station_id, address))


def limits(station_id: str, protocol: str) -> tuple[int | None, int | None, int | None]:
    """(entries a message, bytes a message, entries in all), as the station reported them."""
    if protocol == V16:
        return (
            _value(station_id, OCPP16_COMPONENT, "SendLocalListMaxLength"),
            None,
            _value(station_id, OCPP16_COMPONENT, "LocalAuthListMaxLength"),
        )
    entries = Variable.objects.filter(
        component__station_id=station_id, component__name=CONTROLLER, name="Entries"
    ).first()
    capacity = int(entries.max_limit) if entries is not None and entries.max_limit else None
    return (
        _value(station_id, CONTROLLER, "ItemsPerMessage"),
        _value(station_id, CONTROLLER, "BytesPerMessage"),
        capacity,
    )


# --- the plan of an update --------------------------------------------------------------------------


@dataclass
class Plan:
    station_id: str
    protocol: str
    full: bool
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    problem: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return not self.batches and not self.problem


def plan(station_id: str, *, full: bool = False) -> Plan:
    """The messages that bring the station's list to what the CSMS wants (`full`: a Full update
    even if a Differential would do)."""
    found = station_list(station_id)
    protocol = found.station.protocol or "2.0.1"
    full = full or found.needs_full or found.version == 0
    want = desired(found, protocol)
    per_message, size, capacity = limits(station_id, protocol)
    result = Plan(station_id, protocol, full)
    if capacity is not None and len(want) > capacity:
        result.problem = f"{len(want)} tokens: the station holds at most {capacity}"
        return result
    if full:
        items = [e.wire(protocol) for e in want.values()]
    else:
        have = held(found)
        items = [e.wire(protocol) for t, e in want.items() if have.get(t) != e]
        items += [removal(t, e.token_type, protocol) for t, e in have.items() if t not in want]
        if not items:
            return result
    if not items:  # a Full update of an empty list clears the station's
        result.batches = [[]]
        return result
    payloads = changes.split(
        "SendLocalList", LIST_KEY, items, max_items=per_message, max_bytes=size
    )
    result.batches = [p[LIST_KEY] for p in payloads]
    return result


def next_version(station_id: str) -> int:
    """One above the last the station accepted or reported (never 0: D01.FR.18)."""
    found = station_list(station_id)
    return max(found.version, found.station_version or 0) + 1


def payload(protocol: str, version: int, update_type: str, items: list[dict[str, Any]]) -> dict:
    out: dict[str, Any] = {
        "listVersion" if protocol == V16 else "versionNumber": version,
        "updateType": update_type,
    }
    if items:
        out[LIST_KEY] = items
    return out


def mark_state(station_id: str, state: str, detail: str) -> None:
    StationList.objects.filter(station_id=station_id).update(state=state, detail=detail[:300])


# --- the station's answers ------------------------------------------------------------------------


def _state_after(found: StationList, protocol: str) -> str:
    return (
        StationList.State.CURRENT
        if desired(found, protocol) == held(found)
        else StationList.State.OUTDATED
    )


def update_answered(
    station_id: str, sent: dict[str, Any], status: str, *, user: Any = None, source: str = "api"
) -> ListUpdate:
    """A SendLocalList's answer (or how it was not delivered: `status` is then the outcome)."""
    protocol = V16 if "listVersion" in sent else "2.0.1"
    version = int(sent.get("listVersion", sent.get("versionNumber", 0)))
    update_type = str(sent["updateType"])
    items = [from_wire(i) for i in sent.get(LIST_KEY) or ()]
    person = user if getattr(user, "is_authenticated", False) else None
    with atomic():
        found = station_list(station_id)
        update = ListUpdate.objects.create(
            station_id=station_id,
            version=version,
            update_type=update_type,
            added=sum(1 for _, e in items if e is not None),
            removed=sum(1 for _, e in items if e is None),
            status=status,
            requested_by=person,
            source=source,
        )
        now = utcnow()
        if status == "Accepted":
            if update_type == "Full":
                found.entries.all().delete()
            removed = [t for t, e in items if e is None]
            if removed:
                found.entries.filter(token__in=removed).delete()
            kept = [e for _, e in items if e is not None]
            ListEntry.objects.bulk_create(
                [
                    ListEntry(
                        station_list=found,
                        token=e.token,
                        token_type=e.token_type,
                        status=e.status,
                        expires_at=e.expires_at,
                        group_token=e.group_token,
                    )
                    for e in kept
                ],
                update_conflicts=True,
                unique_fields=["station_list", "token"],
                update_fields=["token_type", "status", "expires_at", "group_token"],
            )
            found.version = version
            found.station_version = version
            if update_type == "Full":
                found.needs_full = False
            found.state = _state_after(found, protocol)
            found.detail = ""
            found.synced_at = now
        elif status in ("VersionMismatch", "Failed"):
            found.needs_full = True  # 1.6 §5.15: the complete list is sent again
            found.state = StationList.State.FAILED
            found.detail = f"The station answered {status} to version {version}"
        elif status == "NotSupported":
            found.state = StationList.State.NOT_SUPPORTED
            found.detail = "The station has no local list"
        found.save()
        return update


def version_reported(station_id: str, version: int) -> StationList:
    """GetLocalListVersion's answer: a station whose list is not the one the CSMS sent (another
    version, 0 after it lost it) gets a Full update next."""
    with atomic():
        found = station_list(station_id)
        found.station_version = version
        found.checked_at = utcnow()
        protocol = found.station.protocol
        if protocol == V16 and version == -1:
            found.state = StationList.State.NOT_SUPPORTED
            found.detail = "The station does not support local lists (version -1)"
        elif version != found.version:
            found.needs_full = True
            found.state = StationList.State.OUTDATED
            found.detail = f"The station holds version {version}, the CSMS sent {found.version}"
        found.save()
        return found


# --- what makes a list outdated ---------------------------------------------------------------------


def tokens_changed(token_ids: list[int] | None = None) -> int:
    """Mark the lists holding these ID tokens (None: every list) as due for an update."""
    lists = StationList.objects.exclude(state=StationList.State.NOT_SUPPORTED).exclude(
        list__isnull=True
    )
    if token_ids is not None:
        lists = lists.filter(Q(list__all_tokens=True) | Q(list__tokens__in=token_ids))
    return StationList.objects.filter(pk__in=lists.values("pk")).update(
        state=StationList.State.OUTDATED
    )


def list_changed(list_id: int) -> int:
    return (
        StationList.objects.filter(list_id=list_id)
        .exclude(state=StationList.State.NOT_SUPPORTED)
        .update(state=StationList.State.OUTDATED)
    )


def assign(station_id: str, chosen: AuthorizationList | None) -> StationList:
    """The list a station should hold (None: none); it is due for an update."""
    with atomic():
        Station.objects.get(pk=station_id)
        found = station_list(station_id)
        found.list = chosen
        if found.state != StationList.State.NOT_SUPPORTED:
            found.state = StationList.State.OUTDATED
        found.save()
        return found


def due(limit: int) -> list[str]:
    """Connected, accepted stations whose list is due for an update, oldest sync first."""
    return list(
        StationList.objects.filter(
            state=StationList.State.OUTDATED,
            station__connected=True,
            station__boot_status="Accepted",
        )
        .order_by("synced_at")
        .values_list("station_id", flat=True)[:limit]
    )
