"""Group commit: the writes of many stations applied in one database transaction per batch.

A station's message is answered only once what it said is durable. Committing each message on its
own costs a commit (and, with one database thread, a place in a queue) per message: at a thousand
stations the queue, not the work, is the latency. Here each message's write is a `Work` item put in
a lane; the lane takes every item waiting, up to OCPP_DB_BATCH_MAX, runs them in its own thread in
one transaction, commits once, and only then answers each item. The batch is as large as the load
makes it: one item when the CSMS is idle (no added latency), hundreds under a storm (one commit
for all). OCPP_DB_BATCH_WINDOW_MS > 0 also waits that long for a batch to fill.

- **Failure stays with its message.** If any item of a batch raises, the whole transaction is
  rolled back and each item is applied again on its own, in its own transaction: the others get
  their answers, the bad one its exception (the station gets InternalError). Services are
  idempotent, and a rolled-back attempt left nothing behind, so re-running is exact. When the
  database itself fails (OperationalError, InterfaceError: down, unreachable, locked), every item of
  the batch was affected and gets that error at once, rather than one wait per item.
- **Ordering per station.** Each station's writes always go to the same lane (its identity's hash),
  and a lane runs one batch at a time, in arrival order: a station's messages are applied in the
  order it sent them. Lanes hold disjoint sets of stations, so their batches never wait on each
  other's row locks (no deadlocks between lanes of one process).
- **Several connections where the database allows them.** PostgreSQL: OCPP_DB_WRITE_LANES lanes
  (default 4), each with its own thread and connection. SQLite has one writer: one lane.
- **Reads do not queue behind writes.** `read` runs on a small pool of reader threads of its own
  (authorization, lookups); SQLite's WAL lets them run while a batch writes.

`stations.db` is the interface the handlers use (`write`, `read`); this module is the machinery.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import weakref
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

logger = logging.getLogger("csms.db")


@dataclass(slots=True)
class Work:
    """One message's write: the function, its arguments, and the future its handler awaits."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    key: str = ""  # the station whose rows it writes: batches lock rows in this order

    def run(self) -> Any:
        return self.context.run(self.function, *self.args, **self.kwargs)


Outcome = tuple[bool, Any]  # (ok, result) or (False, the exception)
Call = tuple[tuple[Any, ...], dict[str, Any]]  # one write's (args, kwargs)
Many = Callable[[list[Call]], list[Any]]

# Services that can apply many stations' writes of one kind with a few statements for all of them
# (a batch's meter readings: one SELECT, one INSERT of every sample, one UPDATE of every row),
# where one at a time costs a few statements each. Registered with `applies_many`.
_MANY: dict[Callable[..., Any], Many] = {}


def applies_many(single: Callable[..., Any]) -> Callable[[Many], Many]:
    """Declare `many` as the batch form of the service `single`: called with the (args, kwargs)
    of every write of that service in a batch (each of a different station, the first argument),
    it returns their results in order, exactly what `single` would have returned for each."""

    def register(many: Many) -> Many:
        _MANY[single] = many
        return many

    return register


def _run(batch: list[Work]) -> list[Outcome]:
    """Every write of the batch, those with a batch form together (at the place of the first of
    them: other stations' writes do not depend on them, and a station has one in flight)."""
    groups: dict[Callable[..., Any], list[int]] = {}
    for index, work in enumerate(batch):
        if work.function in _MANY:
            groups.setdefault(work.function, []).append(index)
    results: list[Outcome | None] = [None] * len(batch)
    for index, work in enumerate(batch):
        if results[index] is not None:
            continue
        members = groups.get(work.function, ())
        stations = {batch[i].args[0] for i in members if batch[i].args}
        if len(members) > 1 and len(stations) == len(members):
            calls = [(batch[i].args, batch[i].kwargs) for i in members]
            values = work.context.run(_MANY[work.function], calls)
            for i, value in zip(members, values, strict=True):
                results[i] = (True, value)
        else:
            results[index] = (True, work.run())
    return [r for r in results if r is not None]


# PostgreSQL's answers to a transaction that lost a race with another (deadlock_detected,
# serialization_failure): nothing is wrong with the writes, they are run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 3


def retryable(error: BaseException) -> bool:
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def _alone(work: Work) -> Outcome:
    for attempt in range(RETRIES + 1):
        try:
            with transaction.atomic():
                return True, work.run()
        except Exception as error:
            if retryable(error) and attempt < RETRIES:
                close_old_connections()
                continue
            return False, error
    raise AssertionError("unreachable")


def _in_key_order(batch: list[Work]) -> list[int]:
    """The batch's indexes, stations in a fixed order (a station's own writes in arrival order).

    Lanes of one process hold disjoint stations, but the lanes of two worker processes may both
    hold writes of the same two stations (a station reconnecting to the other worker while its
    old socket's writes are under way): taken in one order by every batch, their row locks can
    never deadlock."""
    return sorted(range(len(batch)), key=lambda i: batch[i].key)


def apply_batch(batch: list[Work], observe: Callable[[int], None] | None = None) -> list[Outcome]:
    """In the lane's thread: every item in one transaction; if that fails, each on its own."""
    close_old_connections()
    try:
        try:
            order = _in_key_order(batch)
            with transaction.atomic():
                ordered = _run([batch[i] for i in order])
                if observe is not None:
                    observe(len(batch))
            results: list[Outcome] = [(False, None)] * len(batch)
            for position, index in enumerate(order):
                results[index] = ordered[position]
            return results
        except Exception as error:
            if retryable(error):
                # Lost a race with another process's transaction: each write again, on its own.
                logger.info("A batch of %d writes lost a race (%s); retrying", len(batch), error)
                close_old_connections()
                return [_alone(work) for work in batch]
            if len(batch) == 1:
                return [(False, error)]
            if isinstance(error, OperationalError | InterfaceError):
                # The database itself failed (down, unreachable, locked past busy_timeout): every
                # write of the batch is affected, and trying each again would wait once per write.
                logger.warning("A batch of %d writes failed: %s", len(batch), error)
                return [(False, error)] * len(batch)
            logger.info(
                "A batch of %d writes failed (%s: %s); applying each on its own",
                len(batch),
                type(error).__name__,
                error,
            )
            close_old_connections()  # a connection the failure broke is replaced
            return [_alone(work) for work in batch]
    finally:
        close_old_connections()


class Lane:
    """One writer: a queue of work, a thread with its own database connection, one batch at a
    time."""

    def __init__(self, index: int, committer: GroupCommit):
        self.index = index
        self.committer = committer
        self.pending: deque[Work] = deque()
        self.draining: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    def submit(self, work: Work) -> None:
        self.pending.append(work)
        if self.draining is None:
            self.draining = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        committer = self.committer
        try:
            while self.pending:
                if committer.window > 0 and len(self.pending) < committer.max_batch:
                    await asyncio.sleep(committer.window)
                size = min(len(self.pending), committer.max_batch)
                batch = [self.pending.popleft() for _ in range(size)]
                try:
                    results = await loop.run_in_executor(
                        committer.executor(self.index), apply_batch, batch, committer.observe
                    )
                except BaseException as error:  # the loop is shutting down, or a bug of ours
                    for work in batch:
                        if not work.future.done():
                            work.future.set_exception(
                                error if isinstance(error, Exception) else RuntimeError(str(error))
                            )
                    raise
                self.batches += 1
                self.items += size
                for work, (ok, value) in zip(batch, results, strict=True):
                    if work.future.done():  # its handler went away (the socket closed)
                        continue
                    if ok:
                        work.future.set_result(value)
                    else:
                        work.future.set_exception(value)
        finally:
            self.draining = None


class GroupCommit:
    """The lanes of one event loop, and the threads they share across loops of this process."""

    _threads: dict[int, ThreadPoolExecutor] = {}
    _threads_lock = threading.Lock()

    def __init__(self, lanes: int, max_batch: int, window: float):
        self.lanes = [Lane(i, self) for i in range(lanes)]
        self.max_batch = max_batch
        self.window = window
        self.observe: Callable[[int], None] | None = None

    @classmethod
    def executor(cls, index: int) -> ThreadPoolExecutor:
        """The lane's thread (one per lane index, per process): its connection is its own."""
        pool = cls._threads.get(index)
        if pool is None:
            with cls._threads_lock:
                pool = cls._threads.get(index)
                if pool is None:
                    pool = cls._threads[index] = ThreadPoolExecutor(
                        1, thread_name_prefix=f"db-writer-{index}"
                    )
        return pool

    def lane_of(self, key: str) -> Lane:
        if len(self.lanes) == 1:
            return self.lanes[0]
        return self.lanes[zlib.crc32(key.encode()) % len(self.lanes)]

    async def write(self, key: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.lane_of(key).submit(Work(function, args, kwargs, future, key=key))
        return await future

    def pending(self) -> int:
        return sum(len(lane.pending) for lane in self.lanes)


_committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = (
    weakref.WeakKeyDictionary()
)


def write_lanes() -> int:
    """SQLite: one writer. PostgreSQL: OCPP_DB_WRITE_LANES, within the connection pool."""
    if connection.vendor == "sqlite":
        return 1
    lanes = max(1, int(settings.OCPP_DB_WRITE_LANES))
    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict) and "max_size" in pool:
        # Leave connections for the readers, HTTP requests and background jobs.
        lanes = max(1, min(lanes, int(pool["max_size"]) // 2))
    return lanes


def committer() -> GroupCommit:
    """This event loop's lanes (created on first use)."""
    loop = asyncio.get_running_loop()
    found = _committers.get(loop)
    if found is None:
        found = _committers[loop] = GroupCommit(
            write_lanes(),
            max(1, int(settings.OCPP_DB_BATCH_MAX)),
            max(0.0, float(settings.OCPP_DB_BATCH_WINDOW_MS)) / 1000,
        )
        hook = settings.OCPP_DB_BATCH_OBSERVER
        if hook:
            from django.utils.module_loading import import_string

            found.observe = import_string(hook)
    return found


def pending() -> int:
    """Writes waiting for their lane, in every open event loop of this process (a gauge)."""
    return sum(c.pending() for loop, c in list(_committers.items()) if not loop.is_closed())


# --- reads --------------------------------------------------------------------------------------

_readers: ThreadPoolExecutor | None = None
_readers_lock = threading.Lock()


def _read(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


async def read(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    global _readers
    if _readers is None:
        with _readers_lock:
            if _readers is None:
                _readers = ThreadPoolExecutor(
                    max(1, int(settings.OCPP_DB_READERS)), thread_name_prefix="db-reader"
                )
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _readers, context.run, _read, function, args, kwargs
    )
