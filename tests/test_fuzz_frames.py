"""Malformed input at volume: thousands of generated frames of 14 kinds, on both versions.

Each frame is built by a Hypothesis strategy that also says what the specification requires for it
(a CALLERROR with a given id and code, or silence). After every batch a Heartbeat proves both that
the connection lives on and that nothing else was answered (frames are answered in order), and the
domain tables are checked unchanged. Counts per kind are printed (`-s`) for the record.
"""

from __future__ import annotations

import asyncio
import collections
import json

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp.v16.enums import Action as Action16
from ocpp.v201.enums import Action as Action201

from stations.models import Connector, MeterSample, Station, Transaction, TransactionEvent
from tests.ocpp_client import OcppTestClient

pytestmark = pytest.mark.django_db(transaction=True)

SILENT = None  # the documented silence
KNOWN = {a.value for a in Action16} | {a.value for a in Action201}
TALLY: collections.Counter = collections.Counter()

text = st.text(max_size=40)
ids = st.text(min_size=1, max_size=36).filter(lambda s: s != "alive")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def code(version: str, name: str) -> str:
    if version == "1.6":
        return {
            "RpcFrameworkError": "FormationViolation",
            "FormatViolation": "FormationViolation",
            "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
        }.get(name, name)
    return name


SCHEMA_CODES = {
    "OccurrenceConstraintViolation",
    "TypeConstraintViolation",
    "PropertyConstraintViolation",
    "FormatViolation",
}


def kinds(version: str):
    """(kind, frame text or bytes, expected (id, code) or SILENT), one strategy per kind."""
    rpc = code(version, "RpcFrameworkError")
    unknown_type = (
        (lambda i: (i, "MessageTypeNotSupported")) if version == "2.0.1" else (lambda i: SILENT)
    )
    return st.one_of(
        st.text(min_size=1)
        .filter(lambda s: not _is_json(s))
        .map(lambda s: ("not-json", s, ("-1", rpc))),
        st.one_of(
            st.dictionaries(text, json_values, max_size=3), st.integers(), text, st.booleans()
        ).map(lambda v: ("not-an-array", json.dumps(v), ("-1", rpc))),
        st.just(("empty-array", "[]", ("-1", rpc))),
        st.tuples(text | st.floats(allow_nan=False, allow_infinity=False) | st.none(), ids).map(
            lambda t: (
                "type-not-an-integer",
                json.dumps([t[0], t[1], "Heartbeat", {}]),
                ("-1", rpc),
            )
        ),
        st.one_of(st.integers(), st.none(), st.text(min_size=37, max_size=400), st.just("")).map(
            lambda i: ("unreadable-id", json.dumps([2, i, "Heartbeat", {}]), ("-1", rpc))
        ),
        st.tuples(ids, st.lists(json_values, max_size=6).filter(lambda rest: len(rest) != 2)).map(
            lambda t: ("wrong-arity", json.dumps([2, t[0], *t[1]]), (t[0], rpc))
        ),
        st.tuples(ids, json_values.filter(lambda v: not isinstance(v, str))).map(
            lambda t: ("action-not-a-string", json.dumps([2, t[0], t[1], {}]), (t[0], rpc))
        ),
        st.tuples(ids, json_values.filter(lambda v: not isinstance(v, dict))).map(
            lambda t: (
                "payload-not-an-object",
                json.dumps([2, t[0], "Heartbeat", t[1]]),
                (t[0], code(version, "FormatViolation")),
            )
        ),
        st.tuples(ids, st.text(min_size=1, max_size=30).filter(lambda a: a not in KNOWN)).map(
            lambda t: ("unknown-action", json.dumps([2, t[0], t[1], {}]), (t[0], "NotImplemented"))
        ),
        st.tuples(
            ids,
            st.dictionaries(
                text.filter(lambda k: k not in ("connectorId", "evseId")), json_values, max_size=4
            ),
        ).map(
            lambda t: (
                "schema-violation",
                json.dumps([2, t[0], "StatusNotification", t[1]]),
                (t[0], "schema"),
            )
        ),
        st.tuples(st.integers(-(2**63), 2**63 - 1).filter(lambda n: n not in (2, 3, 4)), ids).map(
            lambda t: (
                "unknown-message-type",
                json.dumps([t[0], t[1], "Heartbeat", {}]),
                unknown_type(t[1]),
            )
        ),
        st.tuples(st.sampled_from([3, 4]), ids).map(
            lambda t: (
                "answer-to-nothing",
                json.dumps([t[0], t[1], {}] if t[0] == 3 else [4, t[1], "GenericError", "", {}]),
                SILENT,
            )
        ),
        st.integers(100, 3000).map(lambda n: ("deep-nesting", "[" * n + "]" * n, ("-1", rpc))),
        st.binary(min_size=1, max_size=200).map(lambda b: ("binary", b, ("-1", rpc))),
    )


def _is_json(text_: str) -> bool:
    try:
        json.loads(text_)
    except ValueError:
        return False
    return True


def snapshot() -> tuple:
    station = Station.objects.values("registration_status", "boot_status", "vendor", "status").get(
        pk="CP_1"
    )
    return (
        station,
        Transaction.objects.count(),
        TransactionEvent.objects.count(),
        MeterSample.objects.count(),
        list(Connector.objects.values_list("evse_id", "status")),
    )


async def run_batch(version: str, batch: list) -> None:
    client, connected, _ = await OcppTestClient.open("CP_1", version)
    assert connected
    try:
        for kind, frame, expected in batch:
            TALLY[(version, kind)] += 1
            await client.send(frame)
            if expected is SILENT:
                continue
            answer = await client.receive()
            want_id, want_code = expected
            assert answer[0] == 4 and answer[1] == want_id, (kind, frame, answer)
            if want_code == "schema":
                assert answer[2] in {code(version, c) for c in SCHEMA_CODES}, (kind, frame, answer)
            else:
                assert answer[2] == want_code, (kind, frame, answer)
            assert isinstance(answer[3], str) and isinstance(answer[4], dict)
        alive = await client.call("Heartbeat", {}, unique_id="alive")
        assert alive[0] == 3, alive  # alive, and nothing else was answered in between
    finally:
        await client.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_malformed_frames_get_the_specifications_answer_and_change_nothing(
    transactional_db, version
):
    Station.objects.create(id="CP_1", registration_status="Accepted", boot_status="Accepted")
    Connector.objects.create(station_id="CP_1", evse_id=1, status="Available")
    before = snapshot()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(st.lists(kinds(version), min_size=20, max_size=40))
    def batches(batch):
        async_to_sync(run_batch)(version, batch)

    batches()
    assert snapshot() == before
    total = sum(n for (v, _), n in TALLY.items() if v == version)
    print(
        f"\n{version}: {total} malformed frames, by kind: "
        + ", ".join(f"{k}={n}" for (v, k), n in sorted(TALLY.items()) if v == version)
    )
    assert total >= 1000 and len({k for v, k in TALLY if v == version}) >= 12


async def test_a_flood_of_bad_frames_barely_slows_another_station(transactional_db):
    await Station.objects.acreate(id="CP_1", registration_status="Accepted", boot_status="Accepted")
    await Station.objects.acreate(id="CP_2", registration_status="Accepted", boot_status="Accepted")
    calm, _, _ = await OcppTestClient.open("CP_2", "2.0.1")
    flood, _, _ = await OcppTestClient.open("CP_1", "2.0.1")

    async def heartbeat_ms(n: int = 30) -> float:
        loop, times = asyncio.get_running_loop(), []
        for _ in range(n):
            started = loop.time()
            await calm.heartbeat()
            times.append((loop.time() - started) * 1000)
        return sorted(times)[n // 2]

    quiet = await heartbeat_ms()

    async def flooding() -> None:
        for i in range(3000):
            await flood.send("garbage" if i % 2 else '[2,"x","NoSuchAction",{}]')

    async def drain() -> None:
        for _ in range(3000):
            await flood.receive()

    tasks = [asyncio.create_task(flooding()), asyncio.create_task(drain())]
    busy = await heartbeat_ms()
    await asyncio.gather(*tasks)
    assert (await flood.heartbeat())["currentTime"]  # the flooder is still served, too
    print(
        f"\nother station's Heartbeat median: {quiet:.2f} ms quiet, {busy:.2f} ms under a 3,000-frame flood"
    )
    assert busy < quiet * 10 + 5
    await calm.close()
    await flood.close()
