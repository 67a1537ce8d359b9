"""Prometheus metrics: `GET /metrics` in the standard exposition format (prometheus-client).

Two kinds of metric (docs/metrics.md lists every name and label):

- **Counted in the process**, on the hot path: OCPP messages answered and their handling time,
  commands sent to stations, refused logins; and a gauge sampled from the process, the
  calls waiting for the shared database thread (`in_db_thread`). No database work and no lock of
  ours: a dict lookup for the bound child and prometheus-client's own increment (a few
  microseconds per CALL answered, the histogram included). The hooks never raise into the caller.
- **Read from the database at scrape time**: stations by connection and registration state,
  connectors by status, open and flagged transactions. A few aggregate queries, cached for
  METRICS_CACHE_SECONDS (2 s) per process and computed by one scrape at a time, so a burst of
  scrapes costs the database one round of queries. They are cluster-wide by nature.

**Several workers** (uvicorn `--workers N` on one port): a scrape lands on whichever worker accepts
it, so per-process counters would jump between workers' values. With PROMETHEUS_MULTIPROC_DIR set
(docker-compose.yml does) prometheus-client's multiprocess mode is used: every process writes its
counters to memory-mapped files in that directory and whichever worker answers a scrape sums them
all. Counters of a worker that died stay in the sum (a counter must not go down); the queue-depth
gauge counts live processes only. The directory must be empty when the server starts (a tmpfs in
the compose stack). Without the variable (one process: runserver, a single uvicorn worker, the
tests) the counters live in this process's memory.

**Access**: `METRICS_TOKEN` unset means /metrics does not exist (404); set, a scrape must send
`Authorization: Bearer <token>` (401 otherwise). Whatever fails inside, a scrape never answers 500:
a database error leaves the database gauges out and `csms_metrics_database_ok` at 0; anything else
is a 503.
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ocppj.errors import code_from_wire
from ocppj.rpc import KNOWN_ACTIONS

logger = logging.getLogger("csms.metrics")

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)  # prometheus-client opens its files in there

SAMPLE_SECONDS = 1.0  # multiprocess mode: how often each process publishes its queue depth
UNKNOWN = "unknown"
OTHER = "other"
# Seconds. A Heartbeat is answered in well under a millisecond; a boot storm or a slow database
# shows in the upper buckets.
HANDLING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
COMMAND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
REFUSAL_REASONS = (
    "invalid_identity",
    "unsupported_protocol",
    "bad_request",
    "invalid_credentials",
    "unknown_station",
    "forbidden",
    "throttled",
)
_REFUSAL_BY_STATUS = {
    401: "invalid_credentials",
    403: "forbidden",
    404: "unknown_station",
    429: "throttled",
}
COMMAND_SOURCES = frozenset({"api", "admin", "cli", "dashboard", "reservation"})
_CALL, _CALLRESULT, _CALLERROR = 2, 3, 4
_SLOT = "_metrics_call"  # on a consumer: (unique id, perf_counter) of the CALL being handled

# No `_created` series beside every counter and histogram: they double the series and the
# multiprocess mode has none anyway.
disable_created_metrics()
# Our metrics live in a registry of their own (never the library's global one, which would add
# per-process collectors that make no sense summed over workers).
LOCAL = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "csms_ocpp_messages",
    "CALLs from stations answered, by action, OCPP version and outcome "
    "(answered, or the CALLERROR code sent).",
    ("action", "version", "outcome"),
    registry=LOCAL,
)
HANDLING = Histogram(
    "csms_ocpp_message_duration_seconds",
    "Time from a station's CALL read to its answer written, by action and OCPP version.",
    ("action", "version"),
    buckets=HANDLING_BUCKETS,
    registry=LOCAL,
)
CALLS = Counter(
    "csms_ocpp_calls",
    "Commands (CALLs to stations), by action, outcome (answered, the station's CALLERROR code, "
    "invalid_response, timeout, not_connected) and source (api, admin, dashboard, reservation, "
    "cli); counted by the process that asked.",
    ("action", "outcome", "source"),
    registry=LOCAL,
)
CALL_DURATION = Histogram(
    "csms_ocpp_call_duration_seconds",
    "Commands: from the request to the station's answer (or the timeout), by action.",
    ("action",),
    buckets=COMMAND_BUCKETS,
    registry=LOCAL,
)
REFUSALS = Counter(
    "csms_login_refusals",
    "Station handshakes refused before the WebSocket upgrade, by reason.",
    ("reason",),
    registry=LOCAL,
)
DB_QUEUE = Gauge(
    "csms_db_thread_queue_depth",
    "Database work waiting (stations' writes for their lane, calls for the shared database "
    "thread), summed over live processes.",
    registry=LOCAL,
    multiprocess_mode="livesum",
)
for _reason in REFUSAL_REASONS:  # present at 0 from the start, so rate() sees the first one
    REFUSALS.labels(_reason)


# --- the hooks (hot path) -------------------------------------------------------------------------

_message_children: dict[tuple[str, str, str], Any] = {}
_handling_children: dict[tuple[str, str], Any] = {}
_sampler_started = False


def _child(cache: dict, metric: Any, key: tuple) -> Any:
    child = cache.get(key)
    if child is None:  # labels() takes the metric's lock; once per label set
        child = cache[key] = metric.labels(*key)
    return child


def _action_label(action: str, version: str) -> str:
    """The action if it is one of the version's, else "unknown": label values must stay a small
    set whatever a station sends."""
    return action if action in KNOWN_ACTIONS.get(version, ()) else UNKNOWN


def _error_label(code: str) -> str:
    return code if code_from_wire(code) is not None else OTHER


def _sent_error_code(text: str) -> str:
    try:
        return _error_label(orjson.loads(text)[2])
    except Exception:
        return OTHER


def observe_frame(
    consumer: Any, direction: str, text: str, message_type: int, unique_id: str, action: str
) -> None:
    """Every frame of a station socket (StationConsumer._observe). A station's CALL is timed from
    the moment it is read to the moment its answer is written; they come one at a time per socket,
    so one slot per consumer holds the CALL being handled."""
    try:
        if not _sampler_started:
            _start_sampler()
        if direction == "in":
            if message_type == _CALL and action:
                consumer.__dict__[_SLOT] = (unique_id, time.perf_counter())
            return
        if message_type == _CALLRESULT:
            outcome = "answered"
        elif message_type == _CALLERROR:
            outcome = _sent_error_code(text)
        else:
            return  # a CALL of ours: counted when the command finishes (command_finished)
        rpc = getattr(consumer, "rpc", None)
        version = rpc.version if rpc is not None else ""
        label = _action_label(action, version)
        _child(_message_children, MESSAGES, (label, version, outcome)).inc()
        pending = consumer.__dict__.pop(_SLOT, None)
        if pending is not None and pending[0] == unique_id:
            _child(_handling_children, HANDLING, (label, version)).observe(
                time.perf_counter() - pending[1]
            )
    except Exception:
        logger.debug("metrics: frame not counted", exc_info=True)


def refusal_reason(status: int, reason: str) -> str:
    if status == 400:
        text = reason.lower()
        if "identity" in text:
            return "invalid_identity"
        if "version" in text or "subprotocol" in text:
            return "unsupported_protocol"
        return "bad_request"
    return _REFUSAL_BY_STATUS.get(status, "forbidden" if 400 <= status < 500 else "bad_request")


def login_refused(status: int, reason: str) -> None:
    """A handshake refused before the upgrade (StationConsumer._refuse)."""
    try:
        REFUSALS.labels(refusal_reason(status, reason)).inc()
    except Exception:
        logger.debug("metrics: refusal not counted", exc_info=True)


_csms_actions: frozenset[str] | None = None


def command_finished(action: str, source: str, result: Any) -> None:
    """A command's outcome, where it was asked for (stations.remote.delivery._record)."""
    global _csms_actions
    try:
        if _csms_actions is None:
            from stations.remote.catalog import CSMS_ACTIONS

            _csms_actions = frozenset(a for actions in CSMS_ACTIONS.values() for a in actions)
        label = action if action in _csms_actions else UNKNOWN
        outcome = result.outcome
        if outcome == "call_error":
            outcome = _error_label(result.error_code)
        CALLS.labels(label, outcome, source if source in COMMAND_SOURCES else OTHER).inc()
        if result.outcome != "not_connected":  # nothing was sent: no round trip to time
            CALL_DURATION.labels(label).observe(result.duration_ms / 1000)
    except Exception:
        logger.debug("metrics: command not counted", exc_info=True)


# --- the database thread's queue --------------------------------------------------------------------


def db_queue_depth() -> int:
    """Database work waiting: stations' writes waiting for their lane (group commit) and calls
    waiting for the shared database thread (`in_db_thread`: Channels' database_sync_to_async,
    thread-sensitive, which runs them in asgiref's single-thread executor)."""
    from asgiref.sync import SyncToAsync

    from stations import group_commit

    queue = getattr(SyncToAsync.single_thread_executor, "_work_queue", None)
    return group_commit.pending() + (queue.qsize() if queue is not None else 0)


def _sample_forever() -> None:
    while True:
        try:
            DB_QUEUE.set(db_queue_depth())
        except Exception:
            logger.debug("metrics: queue depth not sampled", exc_info=True)
        time.sleep(SAMPLE_SECONDS)


def _start_sampler() -> None:
    """Multiprocess mode: a scrape reads the other workers' files only, so each process publishes
    its queue depth once a second (a daemon thread; started by the first frame or scrape)."""
    global _sampler_started
    if _sampler_started:
        return
    _sampler_started = True
    if MULTIPROC_DIR:
        threading.Thread(target=_sample_forever, name="metrics-sampler", daemon=True).start()


if not MULTIPROC_DIR:
    DB_QUEUE.set_function(db_queue_depth)  # read at scrape time: exact


# --- what the database says, at scrape time -----------------------------------------------------------


@dataclass
class Snapshot:
    ok: bool = False
    stations: dict[tuple[str, str], int] = field(default_factory=dict)
    connectors: dict[tuple[str, str], int] = field(default_factory=dict)
    open_transactions: int = 0
    flagged_transactions: int = 0


# Every status either version reports: present at 0 so a panel does not lose the series.
CONNECTOR_STATUSES = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Occupied",
    "Reserved",
    "Unavailable",
    "Faulted",
)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def query_database() -> Snapshot:
    """Three aggregate queries (stations and connectors grouped, one count over transactions)."""
    from django.db.models import Count, Q

    from stations.models import Connector, RegistrationStatus, Station, Transaction

    snapshot = Snapshot(ok=True)
    for connected in (True, False):
        for status in RegistrationStatus.values:
            snapshot.stations[(_flag(connected), status)] = 0
        for status in CONNECTOR_STATUSES:
            snapshot.connectors[(status, _flag(connected))] = 0
    station_rows = (
        Station.objects.order_by()
        .values_list("connected", "registration_status")
        .annotate(n=Count("pk"))
    )
    for connected, registration, n in station_rows:
        key = (_flag(connected), registration or UNKNOWN)
        snapshot.stations[key] = snapshot.stations.get(key, 0) + n
    connector_rows = (
        Connector.objects.order_by()
        .values_list("status", "station__connected")
        .annotate(n=Count("pk"))
    )
    for status, connected, n in connector_rows:
        key = (status or UNKNOWN, _flag(connected))
        snapshot.connectors[key] = snapshot.connectors.get(key, 0) + n
    counts = Transaction.objects.filter(is_active=True).aggregate(
        open=Count("pk"), flagged=Count("pk", filter=Q(flagged_at__isnull=False))
    )
    snapshot.open_transactions = counts["open"] or 0
    snapshot.flagged_transactions = counts["flagged"] or 0
    return snapshot


class DatabaseCollector:
    """The database gauges, cached for METRICS_CACHE_SECONDS. The lock makes concurrent scrapes of
    one process wait for the one that queries; a failure is cached too, so an outage is not
    hammered by scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken_at = 0.0

    def describe(self) -> Iterable[Metric]:
        return ()  # no query when registered

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            ttl = getattr(settings, "METRICS_CACHE_SECONDS", 2.0)
            if self._snapshot is not None and time.monotonic() - self._taken_at < ttl:
                return self._snapshot
            try:
                self._snapshot = query_database()
            except Exception as error:
                logger.warning("metrics: database gauges unavailable: %s", type(error).__name__)
                self._snapshot = Snapshot(ok=False)
            self._taken_at = time.monotonic()
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot()
        ok = GaugeMetricFamily(
            "csms_metrics_database_ok",
            "1 when the database gauges of this scrape could be read, else 0 (they are left out).",
        )
        ok.add_metric([], 1 if snapshot.ok else 0)
        yield ok
        if not snapshot.ok:
            return
        stations = GaugeMetricFamily(
            "csms_stations",
            "Stations, by connection (true, false) and registration status.",
            labels=("connected", "registration"),
        )
        for (connected, registration), n in sorted(snapshot.stations.items()):
            stations.add_metric([connected, registration], n)
        yield stations
        connectors = GaugeMetricFamily(
            "csms_connectors",
            "Connectors, by their last reported status and whether their station is connected.",
            labels=("status", "station_connected"),
        )
        for (status, connected), n in sorted(snapshot.connectors.items()):
            connectors.add_metric([status, connected], n)
        yield connectors
        yield GaugeMetricFamily(
            "csms_transactions_open", "Transactions not yet stopped.", snapshot.open_transactions
        )
        yield GaugeMetricFamily(
            "csms_transactions_flagged",
            "Open transactions flagged for an operator (station rebooted or offline too long).",
            snapshot.flagged_transactions,
        )


database = DatabaseCollector()
LOCAL.register(database)


# --- the scrape ---------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_processes(path: str) -> None:
    """Live gauges of processes that are gone (a worker that crashed never says so)."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        try:
            pid = int(os.path.basename(name).rsplit("_", 1)[1].removesuffix(".db"))
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, path)


def registry() -> CollectorRegistry:
    """What one scrape exposes: this process's metrics, or every process's in multiprocess mode."""
    if not MULTIPROC_DIR:
        return LOCAL
    _start_sampler()
    _forget_dead_processes(MULTIPROC_DIR)
    combined = CollectorRegistry(auto_describe=True)
    multiprocess.MultiProcessCollector(combined, path=MULTIPROC_DIR)
    combined.register(database)
    return combined


def exposition(accept: str = "") -> tuple[bytes, str]:
    encoder, content_type = choose_encoder(accept)
    return encoder(registry()), content_type


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD"])
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        # Off unless an operator chose a token: the endpoint does not exist.
        return HttpResponse(b"Not Found\n", status=404, content_type="text/plain")
    if not _authorized(request, token):
        response = HttpResponse(
            b"A bearer token is required\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body, content_type = exposition(request.headers.get("Accept", ""))
    except Exception:
        logger.exception("metrics: exposition failed")
        return HttpResponse(b"Metrics unavailable\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=content_type)
