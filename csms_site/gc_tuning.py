"""The garbage collector of a server holding thousands of sockets.

Python's collector runs its oldest generation over every object alive, and a CSMS process is mostly
long-lived objects: the imported application (Django, the OCPP schemas) and, per station, its
socket, consumer and RPC state. With the default thresholds a full collection at 1,000 stations
took 85 ms (every socket waits meanwhile), and young collections ran several hundred times a
second. So, once the application is imported:

- `gc.freeze()` moves everything alive then (the application) out of the collector's sight: never
  traversed again, as it never becomes garbage;
- the thresholds (GC_THRESHOLDS, default 10000,20,100) make young collections rarer and full ones
  far rarer. Measured with bench/fleet.py (1,000 stations, 1 msg/s): p99 31 → 20 ms, the longest
  pause 99 → 46 ms, CPU per message 642 → 622 µs (docs/performance.md). Objects still die young
  and are collected; only the cadence changes. An empty GC_THRESHOLDS keeps Python's defaults.
"""

from __future__ import annotations

import gc

DEFAULT = "10000,20,100"


def thresholds(value: str) -> tuple[int, int, int] | None:
    """GC_THRESHOLDS: three positive integers ("10000,20,100"), or empty for Python's defaults."""
    if not value.strip():
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or min(numbers) < 1:
        raise ValueError(f"GC_THRESHOLDS must be three positive integers, got {value!r}")
    return numbers[0], numbers[1], numbers[2]


def tune(chosen: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """Freeze what is alive and set the thresholds (settings.GC_THRESHOLDS); called once the ASGI
    application is built."""
    if chosen is None:
        return None
    gc.collect()
    gc.freeze()
    gc.set_threshold(*chosen)
    return chosen
