"""Group commit (stations/group_commit.py, issue 15): many stations' writes in one transaction,
each answered after the commit; a failure stays with its own message; one station's writes in
order; reads never wait behind writes. Real database (SQLite or PostgreSQL), real threads."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import OperationalError, connection, transaction

from stations import db, group_commit
from stations.models import Station, StationEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _event(identity: str, type_: str) -> str:
    StationEvent.objects.create(station_id=identity, kind="audit", type=type_)
    return type_


def _in_transaction() -> bool:
    return connection.in_atomic_block


class Gate:
    """A write that blocks its lane until opened: what queues behind it forms the next batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, identity: str) -> None:
        self.entered.set()
        assert self.release.wait(10), "the gate was never opened"


@pytest.fixture
def batches() -> list[int]:
    """The size of every committed batch (the committer is the test's loop's own, and goes with
    it)."""
    return []


def observe_into(sizes: list[int]) -> None:
    group_commit.committer().observe = sizes.append


async def station(identity: str) -> None:
    await Station.objects.acreate(id=identity, registration_status="Accepted")


def same_lane(count: int) -> list[str]:
    """Station identities whose writes share one lane (PostgreSQL has several)."""
    lanes = group_commit.committer()
    first = lanes.lane_of("GC_0")
    found = (f"GC_{i}" for i in range(10_000))
    return [identity for identity in found if lanes.lane_of(identity) is first][:count]


async def test_writes_queued_together_commit_together_and_are_answered_after_it(batches):
    observe_into(batches)
    identities = same_lane(21)
    for identity in identities:
        await station(identity)
    gate = Gate()
    blocked = asyncio.create_task(db.write(identities[0], gate, identities[0]))
    await asyncio.to_thread(gate.entered.wait, 10)
    writes = [
        asyncio.create_task(db.write(identity, _event, identity, f"E{i}"))
        for i, identity in enumerate(identities[1:])
    ]
    await asyncio.sleep(0)  # every write is queued behind the gate
    assert not any(w.done() for w in writes)  # nothing answered before its batch commits
    gate.release.set()
    assert await asyncio.gather(*writes) == [f"E{i}" for i in range(20)]
    await blocked
    assert batches == [1, 20]  # the gate alone, then all twenty in one transaction
    assert await StationEvent.objects.filter(type__startswith="E").acount() == 20


async def test_each_write_runs_inside_its_batch_transaction():
    assert await db.write("GC", _in_transaction) is True


def _fails(identity: str) -> None:
    StationEvent.objects.create(station_id=identity, kind="audit", type="doomed")
    raise ValueError("a bad message")


async def test_one_failing_write_costs_the_others_nothing(batches):
    """A batch with a failing write is rolled back and each write applied alone: the others are
    stored and answered, the failing one gets its own exception and leaves nothing behind."""
    observe_into(batches)
    gate = Gate()
    blocked = asyncio.create_task(db.write("GC", gate, "GC"))
    await asyncio.to_thread(gate.entered.wait, 10)
    good = [asyncio.create_task(db.write("GC", _event, "GC", f"ok{i}")) for i in range(3)]
    bad = asyncio.create_task(db.write("GC", _fails, "GC"))
    more = asyncio.create_task(db.write("GC", _event, "GC", "ok3"))
    await asyncio.sleep(0)
    gate.release.set()
    await blocked
    assert await asyncio.gather(*good, more) == ["ok0", "ok1", "ok2", "ok3"]
    with pytest.raises(ValueError, match="a bad message"):
        await bad
    types = [t async for t in StationEvent.objects.order_by("pk").values_list("type", flat=True)]
    assert types == ["ok0", "ok1", "ok2", "ok3"]  # applied again, in order; nothing doomed


def _outage(identity: str) -> None:
    raise OperationalError("server closed the connection unexpectedly")


async def test_a_database_failure_fails_every_write_of_its_batch_at_once_and_no_later_one():
    """The database itself failing (down, locked past busy_timeout) hit every write of the batch:
    each gets the error at once (trying each again would wait once per write, minutes in an
    outage), and each station retries. The next batch runs normally."""
    gate = Gate()
    blocked = asyncio.create_task(db.write("GC", gate, "GC"))
    await asyncio.to_thread(gate.entered.wait, 10)
    together = [
        asyncio.create_task(db.write("GC", _outage, "GC")),
        asyncio.create_task(db.write("GC", _event, "GC", "lost with the batch")),
    ]
    await asyncio.sleep(0)
    gate.release.set()
    await blocked
    results = await asyncio.gather(*together, return_exceptions=True)
    assert all(isinstance(r, OperationalError) for r in results)
    assert await db.write("GC", _event, "GC", "fine") == "fine"
    types = [t async for t in StationEvent.objects.values_list("type", flat=True)]
    assert types == ["fine"]


async def test_one_stations_writes_are_applied_in_the_order_it_sent_them():
    writes = [db.write("GC_ORDER", _event, "GC_ORDER", f"{i:03}") for i in range(50)]
    await asyncio.gather(*writes)
    stored = [t async for t in StationEvent.objects.order_by("pk").values_list("type", flat=True)]
    assert stored == [f"{i:03}" for i in range(50)]


def _count_events() -> int:
    return StationEvent.objects.count()


async def test_reads_do_not_wait_behind_a_batch_of_writes():
    """Authorization on the hot path: a read is answered while the writer lane is busy."""
    gate = Gate()
    blocked = asyncio.create_task(db.write("GC", gate, "GC"))
    await asyncio.to_thread(gate.entered.wait, 10)
    try:
        async with asyncio.timeout(5):
            assert await db.read(_count_events) == 0
        assert not blocked.done()
    finally:
        gate.release.set()
    await blocked


async def test_a_station_keeps_its_lane_and_lanes_follow_the_database():
    lanes = group_commit.committer()
    assert lanes.lane_of("CP_1") is lanes.lane_of("CP_1")
    if connection.vendor == "sqlite":
        assert len(lanes.lanes) == 1  # one writer
    else:
        assert len(lanes.lanes) > 1
        used = {lanes.lane_of(f"CP_{i}").index for i in range(100)}
        assert used == set(range(len(lanes.lanes)))


async def test_group_commit_off_is_a_transaction_a_message(settings):
    settings.OCPP_DB_GROUP_COMMIT = False
    assert await db.write("GC", _event, "GC", "alone") == "alone"
    assert await db.read(_count_events) == 1


def test_a_write_outside_the_event_loop_is_refused():
    with pytest.raises(RuntimeError):
        group_commit.committer()


@pytest.mark.parametrize("size", [1, 3])
def test_apply_batch_rolls_back_everything_before_retrying(size):
    """The batch's own transaction is atomic: a failure after some writes leaves none of them."""
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(size + 1)]
        batch = [
            group_commit.Work(_event, ("GC", f"w{i}"), {}, futures[i]) for i in range(size)
        ] + [group_commit.Work(_fails, ("GC",), {}, futures[size])]
        results = group_commit.apply_batch(batch)
    finally:
        loop.close()
    assert [ok for ok, _ in results] == [True] * size + [False]
    assert not transaction.get_connection().in_atomic_block
    assert StationEvent.objects.filter(type="doomed").count() == 0
    assert StationEvent.objects.filter(type__startswith="w").count() == size


class _LostRace(OperationalError):
    """What Django raises for PostgreSQL's deadlock_detected (its sqlstate on the cause)."""

    def __init__(self) -> None:
        super().__init__("deadlock detected")
        self.__cause__ = type("Cause", (Exception,), {"sqlstate": "40P01"})()


_races: dict[str, int] = {}


def _loses_once(station_id: str, name: str) -> str:
    _event(station_id, name)
    if _races.setdefault(name, 0) == 0:
        _races[name] += 1
        raise _LostRace()
    return name


@pytest.mark.parametrize("size", [1, 3])
def test_a_batch_that_lost_a_race_with_another_process_is_run_again(size):
    """Two workers' batches may lock the same stations' rows (a station that moved to the other
    worker): a deadlock or serialization failure is not the message's fault, nor the database's
    being down; the writes are run again, and each gets its answer."""
    _races.clear()
    loop = asyncio.new_event_loop()
    try:
        batch = [
            group_commit.Work(_event, ("GC", f"r{i}"), {}, loop.create_future(), key=f"GC{i}")
            for i in range(size - 1)
        ] + [group_commit.Work(_loses_once, ("GC", "race"), {}, loop.create_future(), key="GC")]
        results = group_commit.apply_batch(batch)
    finally:
        loop.close()
    assert results == [(True, f"r{i}") for i in range(size - 1)] + [(True, "race")]
    assert StationEvent.objects.filter(type="race").count() == 1  # the lost attempt rolled back
    assert StationEvent.objects.filter(type__startswith="r").count() == size


def test_a_batch_locks_its_stations_rows_in_one_order():
    loop = asyncio.new_event_loop()
    try:
        keys = ["CP_9", "CP_1", "CP_5", "CP_1"]
        batch = [
            group_commit.Work(_event, ("GC", f"k{i}"), {}, loop.create_future(), key=k)
            for i, k in enumerate(keys)
        ]
        assert [keys[i] for i in group_commit._in_key_order(batch)] == [
            "CP_1",
            "CP_1",
            "CP_5",
            "CP_9",
        ]
        assert group_commit._in_key_order(batch)[:2] == [1, 3]  # a station's writes in order
        results = group_commit.apply_batch(batch)
    finally:
        loop.close()
    assert results == [(True, f"k{i}") for i in range(4)]  # answered in the batch's order
