"""The transport edge on real servers: `manage.py runserver` (daphne, as `make run` starts it) and
uvicorn (as the Dockerfile starts it, `--ws-max-size`). Issue 13, items 2 and 3.

1. No handshake gets a 5xx. Hypothesis generates request paths (prefixes we serve and do not,
   percent-encodings, raw bytes, over-long segments) and headers (Authorization that is right,
   wrong, not base64, without ':', empty; Sec-WebSocket-Protocol offers that are empty, garbled,
   duplicated; wrong versions and keys, junk headers), sends each as raw bytes on a socket and
   reads the status line: 101 or 4xx, never 5xx, and no traceback in the server's log. Alongside,
   a table of named cases with the status each server gives (daphne turns every refusal of ours
   into 403; uvicorn sends our status).
2. A frame above OCPP_MAX_FRAME_BYTES closes the connection with 1009 and a reason on both
   servers, whatever its size (on daphne: the consumer closes frames up to twice the limit, the
   transport the larger ones, before buffering them), while another station's Heartbeats keep
   their pace.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import os
import socket
import statistics
import sys
import textwrap
import time
import uuid
from collections.abc import Sequence

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stations.models import Station
from stations.passwords import make_station_password
from tests.ocpp_client import connect_ws
from tests.servers import AsgiServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

MAX_FRAME = 16_384
KEY = "fuzz-station-key-0001"
SERVERS = ["runserver", "uvicorn"]


@pytest.fixture(scope="module", params=SERVERS)
def edge(request, django_db_setup, django_db_blocker):
    env = {
        "OCPP_MAX_FRAME_BYTES": str(MAX_FRAME),
        "OCPP_LOGIN_THROTTLE_DELAY": "0",  # the throttle is fuzzed too, without waiting on it
        "OCPP_MESSAGE_LOG": "0",
    }
    args = ["--ws-max-size", str(MAX_FRAME)] if request.param == "uvicorn" else []
    with django_db_blocker.unblock():
        server = AsgiServer(request.param, env, args).start()
    yield server
    server.stop()
    assert_clean_log(server, 0)


def assert_clean_log(server: AsgiServer, since: int) -> None:
    log = "".join(server.lines[since:])
    for sign in ("Traceback", "Exception inside application", "500 Internal", " 500"):
        assert sign not in log, log[-4000:]


@pytest.fixture
def stations(transactional_db):
    Station.objects.bulk_create(
        [
            Station(id="CP_KEY", password_hash=make_station_password(KEY), boot_status="Accepted"),
            Station(id="CP_OPEN", boot_status="Accepted"),  # no password (Security Profile 0)
            Station(id="CP_BEAT", boot_status="Accepted"),
        ]
    )
    yield
    # The test ends once the server has released the rows of the sockets it admitted: the flush
    # after it would otherwise race that write (on PostgreSQL, a deadlock in the server's log).
    deadline = time.monotonic() + 10
    while Station.objects.filter(connected=True).exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling another process's write


# --- 1. handshakes ----------------------------------------------------------------------------------


def request_bytes(path: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def upgrade_headers(
    *, protocols: list[bytes] | None = None, extra: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"Sec-WebSocket-Version", b"13"),
    ]
    for value in protocols if protocols is not None else [b"ocpp2.0.1"]:
        headers.append((b"Sec-WebSocket-Protocol", value))
    return headers + list(extra)


def status_of(port: int, raw: bytes, timeout: float = 10) -> int:
    """The HTTP status the server answers `raw` with; 0 if it closed without a word."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n" not in data:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    if not data:
        return 0
    return int(data.split(b" ", 2)[1])


def basic(username: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(username + b":" + password)


# Named cases: (path, headers, status on uvicorn, status on runserver/daphne).
CASES = {
    "no /ocpp/ prefix": (b"/CP_KEY", upgrade_headers(), 404, 403),
    "root": (b"/", upgrade_headers(), 404, 403),
    "too many segments": (b"/ocpp/a/b/c", upgrade_headers(), 404, 403),
    "unknown version": (b"/ocpp/3.0/CP_KEY", upgrade_headers(), 404, 403),
    "empty identity": (b"/ocpp/", upgrade_headers(), 404, 403),
    "over-long unrouted path": (b"/" + b"x" * 6000, upgrade_headers(), 404, 403),
    "over-long identity": (b"/ocpp/" + b"x" * 6000, upgrade_headers(), 400, 403),
    "identity of 49": (b"/ocpp/" + b"C" * 49, upgrade_headers(), 400, 403),
    "percent-encoded junk identity": (b"/ocpp/%FF%FE%00", upgrade_headers(), 400, 403),
    "Authorization not base64": (
        b"/ocpp/CP_KEY",
        upgrade_headers(extra=[(b"Authorization", b"Basic !!!")]),
        401,
        403,
    ),
    "Authorization without a colon": (
        b"/ocpp/CP_KEY",
        upgrade_headers(extra=[(b"Authorization", b"Basic " + base64.b64encode(b"CP_KEY"))]),
        401,
        403,
    ),
    "Authorization empty": (
        b"/ocpp/CP_KEY",
        upgrade_headers(extra=[(b"Authorization", b"")]),
        401,
        403,
    ),
    "Authorization malformed, station without password": (
        b"/ocpp/CP_OPEN",
        upgrade_headers(extra=[(b"Authorization", b"Basic ===")]),
        401,
        403,
    ),
    "subprotocol garbled": (b"/ocpp/CP_OPEN", upgrade_headers(protocols=[b",,;;"]), 400, 400),
    "subprotocol empty": (b"/ocpp/CP_OPEN", upgrade_headers(protocols=[b""]), 400, 403),
    # daphne (autobahn) refuses a duplicated offer itself; uvicorn merges it and we serve it.
    "subprotocol duplicated": (
        b"/ocpp/CP_OPEN",
        upgrade_headers(protocols=[b"ocpp1.6", b"ocpp1.6"]),
        101,
        400,
    ),
    "right key": (
        b"/ocpp/CP_KEY",
        upgrade_headers(extra=[(b"Authorization", basic(b"CP_KEY", KEY.encode()))]),
        101,
        101,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_named_handshakes_get_their_status_never_a_5xx(edge, stations, case):
    path, headers, on_uvicorn, on_daphne = CASES[case]
    since = len(edge.lines)
    expected = on_uvicorn if edge.kind == "uvicorn" else on_daphne
    assert status_of(edge.port, request_bytes(path, headers)) == expected
    assert_clean_log(edge, since)


TALLY: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def report_statuses():
    yield
    print("\nhandshake fuzz statuses:", {k: dict(v) for k, v in TALLY.items()})


# Hypothesis: what a confused charger, a scanner or a fuzzer might send. Mostly one fault at a time
# in an otherwise plausible handshake (so that most reach our code), sometimes several.
segment_chars = st.sampled_from(
    [*"ABCXYZabcxyz0189_-.~!*'()@:;=+$,&", "%20", "%2F", "%00", "%FF", "%C3%A9", "..", "/"]
)
segment = st.lists(segment_chars, max_size=30).map("".join) | st.integers(40, 3000).map(
    lambda n: "x" * n
)
identity = st.sampled_from(["CP_KEY", "CP_OPEN", "NOBODY"]) | segment
suffix = st.sampled_from(["", "", "/", "?x=1", "?%00", "#f"])
served_path = st.tuples(st.sampled_from(["/ocpp/", "/ocpp/1.6/", "/ocpp/2.0.1/"]), identity, suffix)
other_path = st.tuples(
    st.sampled_from(["/", "//", "/ocpp/3.0/", "/ws/", "/ws/dashboard/", "/admin/", "/api/"]),
    identity,
    suffix,
)
raw_path = st.one_of(served_path, served_path, served_path, other_path).map(
    lambda t: "".join(t).encode("latin-1", "replace")
) | st.binary(min_size=1, max_size=80).map(
    lambda b: b"/" + b.replace(b"\r", b"").replace(b"\n", b"")
)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
header_text = printable.map(str.encode) | st.binary(max_size=60).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"")
)
authorization = st.one_of(
    st.none(),
    st.sampled_from(
        [
            basic(b"CP_KEY", KEY.encode()),
            basic(b"CP_KEY", b"wrong-key-0000000000"),
            basic(b"CP_OPEN", b""),
            basic(b"\xff\xfe", b"x"),
            b"Basic !!!",
            b"Basic ",
            b"Basic",
            b"",
            b"Bearer abc",
            b"Basic " + base64.b64encode(b"no-colon"),
        ]
    ),
    header_text,
    header_text.map(lambda b: b"Basic " + base64.b64encode(b)),
)
protocol_value = (
    st.sampled_from(
        [b"ocpp1.6", b"ocpp2.0.1", b"ocpp2.1", b"", b" ", b"ocpp1.6, ocpp2.0.1", b",,", b"OCPP1.6"]
    )
    | header_text
)
offers = st.one_of(
    st.just([b"ocpp2.0.1"]), st.just([b"ocpp1.6"]), st.lists(protocol_value, max_size=3)
)
junk_header = st.tuples(
    st.sampled_from(
        [b"Sec-WebSocket-Version", b"Sec-WebSocket-Key", b"Upgrade", b"Connection", b"X-Junk"]
    ),
    header_text,
)
junk_headers: st.SearchStrategy[list[tuple[bytes, bytes]]] = st.one_of(
    st.just([]), st.just([]), st.lists(junk_header, min_size=1, max_size=2)
)


@settings(
    max_examples=int(os.environ.get("CSMS_HANDSHAKE_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=raw_path, auth=authorization, offer=offers, junk=junk_headers)
def test_no_generated_handshake_gets_a_5xx(edge, stations, path, auth, offer, junk):
    extra = [(b"Authorization", auth)] if auth is not None else []
    headers = upgrade_headers(protocols=offer, extra=extra + junk)
    since = len(edge.lines)
    status = status_of(edge.port, request_bytes(path, headers))
    TALLY[edge.kind][status] += 1
    # 101 or 4xx for a handshake; 0 if the server's own HTTP parser hung up on a request it cannot
    # read; 2xx/3xx when junk in Upgrade/Connection makes it plain HTTP (uvicorn then hands it to
    # Django, whose login redirect is a 302). Never a 5xx.
    assert 0 <= status < 500, (status, path, headers)
    assert_clean_log(edge, since)


# --- 2. oversize frames -----------------------------------------------------------------------------


async def open_station(server: AsgiServer, identity: str) -> websockets.ClientConnection:
    return await connect_ws(server.url, identity, max_size=None, open_timeout=20, close_timeout=10)


async def send_oversize(server: AsgiServer, size: int) -> tuple[int | None, str]:
    """Connect, send one text frame of `size` bytes; the close code and reason the server sent."""
    ws = await open_station(server, "CP_OPEN")
    with contextlib.suppress(websockets.ConnectionClosed):  # it may close while the frame goes
        await ws.send("x" * size)
    with contextlib.suppress(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    await asyncio.wait_for(ws.wait_closed(), 10)
    return ws.close_code, ws.close_reason or ""  # 1006 and "" when no close frame came


SIZES = {
    "limit + 1": MAX_FRAME + 1,
    "twice the limit": 2 * MAX_FRAME,
    "twice the limit + 1": 2 * MAX_FRAME + 1,
    "64 x the limit": 64 * MAX_FRAME,
}


@pytest.mark.parametrize("size", list(SIZES))
async def test_an_oversize_frame_closes_with_1009_and_a_reason(edge, stations, size):
    since = len(edge.lines)
    code, reason = await send_oversize(edge, SIZES[size])
    assert code == 1009 and reason, (code, reason)
    # A frame at the limit is still served: the connection answers it (here: not JSON).
    ws = await open_station(edge, "CP_OPEN")
    await ws.send("x" * MAX_FRAME)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer[0] == 4
    await ws.close()
    assert_clean_log(edge, since)


async def heartbeat_seconds(ws: websockets.ClientConnection) -> float:
    unique_id = uuid.uuid4().hex[:16]
    began = time.perf_counter()
    await ws.send(json.dumps([2, unique_id, "Heartbeat", {}]))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer[0] == 3 and answer[1] == unique_id, answer
    return time.perf_counter() - began


# The oversize frames come from a process of their own: building and masking megabyte frames in
# this process would slow the Heartbeats measured here, whatever the server does.
OVERSIZE = textwrap.dedent(
    """
    import asyncio, contextlib, json, sys
    import websockets

    url, sizes = sys.argv[1], [int(n) for n in sys.argv[2].split(",")]

    async def one(size):
        ws = await websockets.connect(
            url, subprotocols=["ocpp2.0.1"], max_size=None, open_timeout=20, close_timeout=10)
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send("x" * size)
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code

    async def main():
        print("started", flush=True)
        print(json.dumps([await one(size) for size in sizes]), flush=True)

    asyncio.run(main())
    """
)


async def test_other_stations_keep_their_pace_while_oversize_frames_arrive(edge, stations):
    beat = await open_station(edge, "CP_BEAT")  # accepted at an earlier boot
    for _ in range(5):  # warm up
        await heartbeat_seconds(beat)
    before = [await heartbeat_seconds(beat) for _ in range(40)]

    sizes = [MAX_FRAME + 1, 2 * MAX_FRAME + 1, 64 * MAX_FRAME] * 4
    sender = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OVERSIZE,
        f"{edge.url}/ocpp/CP_OPEN",
        ",".join(map(str, sizes)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert sender.stdout is not None
    assert (await sender.stdout.readline()).strip() == b"started"
    during: list[float] = []
    done = asyncio.ensure_future(sender.stdout.readline())
    while not done.done():
        during.append(await heartbeat_seconds(beat))
        await asyncio.sleep(0.005)  # a station's pace, not a wait for an event
    codes = json.loads(await done)
    await sender.wait()
    after = [await heartbeat_seconds(beat) for _ in range(20)]
    await beat.close()

    report = {
        "before_ms": round(statistics.median(before) * 1000, 2),
        "during_ms": round(statistics.median(during) * 1000, 2),
        "after_ms": round(statistics.median(after) * 1000, 2),
        "samples": (len(before), len(during), len(after)),
    }
    print(f"\n{edge.kind} oversize frames:", json.dumps(report))
    assert codes == [1009] * len(sizes), codes
    assert len(during) >= 10, report
    # Sub-millisecond medians: 1 ms of slack for the scheduler's noise.
    assert statistics.median(during) <= 2 * statistics.median(before) + 0.001, report
