"""Failed station logins, rate-limited per identity and per address.

After OCPP_LOGIN_FAILURE_LIMIT failures within OCPP_LOGIN_FAILURE_WINDOW seconds, further
handshakes for that identity, or from that address, are refused with 429 before any database work,
even with the right password, until the window has passed. A guesser learns nothing and a flood of
bad handshakes costs the database nothing, so live stations are not starved.

The counts live in each worker process: with W workers an attacker gets at most W x the limit.
"""

from __future__ import annotations

import time
from collections import deque

from django.conf import settings


class LoginThrottle:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        window = settings.OCPP_LOGIN_FAILURE_WINDOW
        while failures and failures[0] <= now - window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def blocked(self, key: str) -> bool:
        failures = self._recent(key, time.monotonic())
        return failures is not None and len(failures) >= settings.OCPP_LOGIN_FAILURE_LIMIT

    def failure(self, key: str) -> None:
        now = time.monotonic()
        failures = self._recent(key, now)
        if failures is None:
            if len(self._failures) >= self._max_keys:  # bounded, whatever the attacker sends
                self._failures.pop(next(iter(self._failures)))
            failures = self._failures[key] = deque()
        failures.append(now)

    def success(self, key: str) -> None:
        self._failures.pop(key, None)

    def clear(self) -> None:
        self._failures.clear()


by_identity = LoginThrottle()
by_address = LoginThrottle()
