"""Failed station logins: refused without database work, and never at the expense of the right key.

Checking a station key costs about a microsecond (salted SHA-256, stations/passwords.py), so there is
no reason to lock anyone out: the throttle refuses wrong attempts cheaply, never right ones.

- Per identity and per address, the refused handshakes of the last OCPP_LOGIN_FAILURE_WINDOW seconds
  are counted (`by_identity`, `by_address`). Handshakes for an identity still under way count
  against its limit too (`begin`/`end`): a concurrent burst would otherwise all pass the check
  before the first failure is counted.
- Below OCPP_LOGIN_FAILURE_LIMIT for both its identity and its address, a handshake takes the normal
  path (`Verdict.NORMAL`): one hop to `station_admit`, which checks the key and records a refusal in
  full (`failed_logins`, a StationEvent).
- At the limit, the handshake is *throttled*: the presented credentials are checked in memory first,
  against the station's key hashes as the last database check of this worker read them (`keys`,
  trusted for OCPP_LOGIN_KEY_CACHE_SECONDS). Credentials that do not match are refused with 429
  without database work (`Verdict.WRONG`); the right key goes on to `station_admit` as always
  (`Verdict.CHECK`). So the right key is admitted whatever failures preceded it, and whoever knows
  a station's identity cannot keep it offline. Nothing cached yet: the check under way for that
  identity is awaited (`Verdict.WAIT`), or this handshake makes the one check itself.
- An address at the limit only puts its handshakes on that path: a station behind the same NAT
  address, with its own key, is admitted. Identities that do not exist are refused there from
  `index`, the set of identities that exist (loaded the first time an address reaches the limit,
  topped up with newer rows every OCPP_LOGIN_INDEX_SECONDS): probing from an address costs the
  database nothing once the address has reached its limit (`Verdict.UNKNOWN`).
- A handshake refused by the throttle waits OCPP_LOGIN_THROTTLE_DELAY seconds for its 429
  (`slow_down`; at most MAX_HELD at once, the rest are answered at once): a guesser that waits for
  each answer, as scripts do, gets at most (its concurrency / the delay) attempts a second, and
  the handshakes it costs us cannot crowd out live stations. The right key is never delayed.
- Refusals decided in memory are recorded in aggregate (`refusals`, written by a background job of
  every worker every OCPP_PRESENCE_FLUSH_SECONDS and at shutdown, `record_refusals`; no database
  work while there are none):
  per station, `failed_logins` raised by the count and one `LoginsThrottled` StationEvent with the
  addresses; per probing address one `UnknownStationsThrottled` event. A flood writes a few rows
  per interval, not one per attempt; a crash loses at most one interval of the tally.

All of this lives in each worker process: with W workers an attacker gets W x the limit of checks
that reach the database. A key changed in this process (the admin, the REST API) drops the cached
entry at once (`post_save`); a key changed elsewhere (`manage.py register_station`, another worker)
or by a queryset `update()` is seen when the entry expires, so for at most OCPP_LOGIN_KEY_CACHE_SECONDS a
throttled station's *new* key may be refused (it retries). A station registered by another process
while its own address is throttled may be refused as unknown for up to OCPP_LOGIN_INDEX_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save

from stations import background
from stations.clock import utcnow
from stations.db import in_db_thread
from stations.models import Station
from stations.services.connections import (
    Credentials,
    credential_problem,
    record_throttled,
    station_identities,
)

logger = logging.getLogger("csms.security")

# Rows created by another process whose clock runs this much behind ours are still found.
INDEX_CLOCK_SLACK = timedelta(seconds=60)
WAIT_SECONDS = 10.0  # at most, for a check under way or the index; then the database decides
MAX_HELD = 1_000  # throttled handshakes held for OCPP_LOGIN_THROTTLE_DELAY at once, per worker


class LoginThrottle:
    """Refused handshakes per key (identity or address) within the window. Only the latest
    OCPP_LOGIN_FAILURE_LIMIT times are kept: whether the limit is reached is all that matters."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._settled: dict[str, asyncio.Event] = {}
        self._max_keys = max_keys

    def count(self, key: str, now: float | None = None) -> int:
        failures = self._failures.get(key)
        if failures is None:
            return 0
        if now is None:
            now = time.monotonic()
        window = settings.OCPP_LOGIN_FAILURE_WINDOW
        while failures and failures[0] <= now - window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0
        return len(failures)

    def blocked(self, key: str) -> bool:
        """Whether `key` has reached the limit (its handshakes are throttled, not refused)."""
        return self.count(key) >= settings.OCPP_LOGIN_FAILURE_LIMIT

    def pending(self, key: str) -> int:
        return self._pending.get(key, 0)

    def begin(self, key: str) -> None:
        """One more check of `key` under way; it must be followed by `end`."""
        self._pending[key] = self._pending.get(key, 0) + 1

    def end(self, key: str) -> None:
        pending = self._pending.pop(key, 0) - 1
        if pending > 0:
            self._pending[key] = pending
            return
        settled = self._settled.pop(key, None)
        if settled is not None:
            settled.set()

    async def settled(self, key: str, timeout: float = WAIT_SECONDS) -> None:
        """Until no check of `key` is under way (or `timeout`)."""
        if not self.pending(key):
            return
        event = self._settled.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def failure(self, key: str) -> None:
        limit = max(1, settings.OCPP_LOGIN_FAILURE_LIMIT)
        failures = self._failures.get(key)
        if failures is None or failures.maxlen != limit:
            if failures is None and len(self._failures) >= self._max_keys:
                # Bounded, whatever the attacker sends: the oldest key is forgotten.
                self._failures.pop(next(iter(self._failures)))
            failures = self._failures[key] = deque(failures or (), maxlen=limit)
        failures.append(time.monotonic())

    def success(self, key: str) -> None:
        self._failures.pop(key, None)

    def clear(self) -> None:
        self._failures.clear()
        self._pending.clear()
        self._settled.clear()


@dataclass(frozen=True)
class CachedKeys:
    keys: tuple[str, ...] | None  # None: no such station
    at: float  # time.monotonic() of the database check


class KeyCache:
    """Each identity's key hashes as the last database check of this worker read them."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[str, CachedKeys] = {}
        self._max_entries = max_entries

    def get(self, identity: str, now: float) -> CachedKeys | None:
        entry = self._entries.get(identity)
        if entry is None or now - entry.at >= settings.OCPP_LOGIN_KEY_CACHE_SECONDS:
            return None
        return entry

    def learn(self, identity: str, keys: tuple[str, ...] | None) -> None:
        if identity not in self._entries and len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)), None)
        self._entries[identity] = CachedKeys(keys, time.monotonic())

    def forget(self, identity: str) -> None:
        self._entries.pop(identity, None)

    def clear(self) -> None:
        self._entries.clear()


class IdentityIndex:
    """The identities that exist, so that an address probing for unknown ones is refused without a
    query per probe. Loaded on first need (an address at its limit), then topped up with the rows
    created since the previous load (less INDEX_CLOCK_SLACK) when older than
    OCPP_LOGIN_INDEX_SECONDS; stations created in this process are added at once. A deleted
    station stays in it: its handshakes then go to the database, which says 404."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._loaded_at: float | None = None
        self._since: datetime | None = None
        self._loading: asyncio.Task | None = None

    def knows(self, identity: str, now: float) -> bool | None:
        """True or False, or None when the index must be (re)loaded before it can say no."""
        if identity in self._ids:
            return True
        if self._loaded_at is None or now - self._loaded_at >= settings.OCPP_LOGIN_INDEX_SECONDS:
            return None
        return False

    def add(self, identity: str) -> None:
        if self._loaded_at is not None:
            self._ids.add(identity)

    async def refresh(self) -> None:
        """Load or top up the index: one query, however many handshakes wait for it."""
        task = self._loading
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = self._loading = asyncio.ensure_future(self._load())
        try:
            await asyncio.wait_for(asyncio.shield(task), WAIT_SECONDS)
        except Exception:
            logger.warning("login throttle: the identity index could not be loaded", exc_info=True)

    async def _load(self) -> None:
        started = utcnow()
        since = self._since - INDEX_CLOCK_SLACK if self._since is not None else None
        identities = await in_db_thread(station_identities)(since)
        if since is None:
            self._ids = set(identities)
        else:
            self._ids.update(identities)
        self._since = started
        self._loaded_at = time.monotonic()

    def clear(self) -> None:
        self._ids = set()
        self._loaded_at = None
        self._since = None
        self._loading = None


class RefusalLog:
    """Handshakes refused in memory, tallied until their job records them (`flush_refusals`).
    Written from the event loop, taken from the database thread, hence the lock."""

    MAX_KEYS = 10_000  # identities and addresses tallied per interval; beyond, only counted
    MAX_SAMPLE = 16  # addresses per identity, identities per address

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stations: dict[str, dict[str, Any]] = {}
        self._probes: dict[str, dict[str, Any]] = {}
        self._overflow = 0

    def station(self, identity: str, address: str) -> None:
        self._add(self._stations, identity, "addresses", address, {"identity": identity})

    def probe(self, address: str, identity: str) -> None:
        self._add(self._probes, address, "identities", identity, {"address": address})

    def _add(self, tallies: dict, key: str, sample: str, item: str, base: dict) -> None:
        now = utcnow()
        with self._lock:
            tally = tallies.get(key)
            if tally is None:
                if len(tallies) >= self.MAX_KEYS:
                    self._overflow += 1
                    return
                tally = tallies[key] = {**base, "count": 0, "first": now, sample: {}}
            tally["count"] += 1
            tally["last"] = now
            tally["last_address"] = base.get("address", item)
            seen = tally[sample]
            if item in seen or len(seen) < self.MAX_SAMPLE:
                seen[item] = seen.get(item, 0) + 1

    def empty(self) -> bool:
        return not (self._stations or self._probes or self._overflow)

    def take(self) -> tuple[list[dict], list[dict], int]:
        with self._lock:
            stations, probes, overflow = self._stations, self._probes, self._overflow
            self._stations, self._probes, self._overflow = {}, {}, 0
        return list(stations.values()), list(probes.values()), overflow

    def clear(self) -> None:
        self.take()


class Verdict(enum.Enum):
    NORMAL = "normal"  # below the limit: station_admit checks and records a refusal
    CHECK = "check"  # throttled; the database decides, a refusal is tallied in memory
    WRONG = "wrong"  # throttled; the credentials do not match the cached keys: refused
    UNKNOWN = "unknown"  # throttled; no such station: refused
    WAIT = "wait"  # throttled; a check of this identity, or the index, is under way


by_identity = LoginThrottle()
by_address = LoginThrottle()
keys = KeyCache()
index = IdentityIndex()
refusals = RefusalLog()


def assess(
    identity: str, address: str, credentials: Credentials, *, patient: bool = True
) -> Verdict:
    """What to do with a handshake, decided in memory. `patient=False` never answers WAIT."""
    limit = settings.OCPP_LOGIN_FAILURE_LIMIT
    now = time.monotonic()
    pending = by_identity.pending(identity)
    identity_throttled = by_identity.count(identity, now) + pending >= limit
    address_throttled = by_address.count(address, now) >= limit
    if not identity_throttled and not address_throttled:
        return Verdict.NORMAL
    cached = keys.get(identity, now)
    if cached is not None:
        if cached.keys is None:
            return Verdict.CHECK if settings.OCPP_AUTO_REGISTER else Verdict.UNKNOWN
        if credential_problem(cached.keys, identity, credentials):
            return Verdict.WRONG
        return Verdict.CHECK
    if pending and patient:
        return Verdict.WAIT
    if address_throttled and not settings.OCPP_AUTO_REGISTER:
        known = index.knows(identity, now)
        if known is None and patient:
            return Verdict.WAIT
        if known is False:
            return Verdict.UNKNOWN
    return Verdict.CHECK


async def wait(identity: str) -> None:
    """For a WAIT verdict: until the check of `identity` under way is done, else the index."""
    if by_identity.pending(identity):
        await by_identity.settled(identity)
    else:
        await index.refresh()


def learn(identity: str, station_keys: tuple[str, ...] | None) -> None:
    """What a database check read: the station's key hashes, or None for no such station."""
    keys.learn(identity, station_keys)
    if station_keys is not None:
        index.add(identity)


def failed(identity: str, address: str) -> None:
    by_identity.failure(identity)
    by_address.failure(address)


def refused_in_memory(identity: str, address: str, *, unknown: bool) -> None:
    """A throttled handshake refused without a record of its own: counted, and tallied."""
    failed(identity, address)
    if unknown:
        refusals.probe(address, identity)
    else:
        refusals.station(identity, address)
    background.ensure_started()  # recorded by its job (a no-op once the jobs run)


async def record_refusals() -> str | None:
    """The background job's tick (every OCPP_PRESENCE_FLUSH_SECONDS, and once more at shutdown):
    nothing to do, no database work."""
    if refusals.empty():
        return None
    return await in_db_thread(flush_refusals)()


_held = 0


async def slow_down() -> None:
    """Hold a handshake refused by the throttle before its answer (an idle socket, nothing else)."""
    global _held
    delay = settings.OCPP_LOGIN_THROTTLE_DELAY
    if delay <= 0 or _held >= MAX_HELD:
        return
    _held += 1
    try:
        await asyncio.sleep(delay)
    finally:
        _held -= 1


def flush_refusals() -> str | None:
    """Record the tallied refusals (synchronous: in the database thread). A failed write loses that
    interval's tally, as a crash would."""
    stations, probes, overflow = refusals.take()
    if overflow:
        logger.warning(
            "login throttle: %d refused handshake(s) not tallied (too many keys)", overflow
        )
    if not stations and not probes:
        return None
    return f"{record_throttled(stations, probes)} handshake(s) refused in memory recorded"


def reset() -> None:
    """Forget everything (tests)."""
    global _held
    _held = 0
    by_identity.clear()
    by_address.clear()
    keys.clear()
    index.clear()
    refusals.clear()


def _station_saved(
    sender: type, instance: Station, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    if created:
        index.add(instance.pk)
    if update_fields is None or {"password_hash", "next_password_hash"} & set(update_fields):
        keys.forget(instance.pk)


post_save.connect(_station_saved, sender=Station, dispatch_uid="stations.throttle.station_saved")
