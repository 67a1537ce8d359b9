"""The ways async code reaches the ORM; the event loop never waits on the database itself.

- `write(station_id, service, ...)`: what a station's message changes. Group commit
  (stations/group_commit.py): applied with the writes of other stations in one transaction per
  batch, answered once it is committed; one station's writes in the order it sent them.
- `read(query, ...)`: a lookup on the hot path (authorization), on reader threads of its own, so it
  never waits behind a batch of writes.
- `in_db_thread(function)(...)`: Channels' `database_sync_to_async`, the shared database thread,
  for everything else (commands from the CLI, background jobs, the REST side's lookups).

Handlers make at most one database call per message. OCPP_DB_GROUP_COMMIT=0 sends `write` and
`read` through `in_db_thread` too, one transaction per message (for comparison in benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async as in_db_thread
from django.conf import settings
from django.db import transaction

from stations import group_commit

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["atomic", "by_lane", "in_db_thread", "read", "write"]


def atomic() -> transaction.Atomic:
    """A service's unit of work: its own transaction when called alone, and under group commit
    simply part of its batch's transaction, without a savepoint (two statements a message saved):
    if it fails, the whole batch is rolled back and each write applied alone. A block that catches
    a database error and goes on needs its savepoint: `transaction.atomic()` there."""
    return transaction.atomic(savepoint=False)


async def write(station_id: str, service: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Apply `service(*args, **kwargs)` in the station's lane; its result once committed."""
    if not settings.OCPP_DB_GROUP_COMMIT:
        return await in_db_thread(service)(*args, **kwargs)
    result: T = await group_commit.committer().write(station_id, service, *args, **kwargs)
    return result


async def read(query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read-only `query(*args, **kwargs)` on a reader thread."""
    if not settings.OCPP_DB_GROUP_COMMIT:
        return await in_db_thread(query)(*args, **kwargs)
    result: T = await group_commit.read(query, *args, **kwargs)
    return result


def by_lane(station_ids: Iterable[str]) -> list[list[str]]:
    """Stations grouped by the lane their writes take (call from the event loop): a write that
    touches many stations' rows (presence) is split so that each part runs in those stations'
    own lane, and no two lanes ever wait on each other's row locks."""
    if not settings.OCPP_DB_GROUP_COMMIT:
        return [list(station_ids)]
    lanes = group_commit.committer()
    groups: dict[int, list[str]] = {}
    for station_id in station_ids:
        groups.setdefault(lanes.lane_of(station_id).index, []).append(station_id)
    return list(groups.values())
