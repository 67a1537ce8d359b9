"""Failed station logins, rate-limited per identity and per address.

After OCPP_LOGIN_FAILURE_LIMIT failures within OCPP_LOGIN_FAILURE_WINDOW seconds, further
handshakes for that identity, or from that address, are refused with 429 before any database work,
even with the right password, until the window has passed. A guesser learns nothing and a flood of
bad handshakes costs the database nothing, so live stations are not starved.

Handshakes for one identity still under way count against its limit too (`begin`/`end`): a burst
of concurrent guesses would otherwise all pass the check before the first failure is recorded.
Per address only failures count, so a site of many stations behind one NAT address can boot at once.
Unknown identities count as failures of their address: probing for identities is guessing too.

The counts live in each worker process: with W workers an attacker gets at most W x the limit.
"""

from __future__ import annotations

import time
from collections import deque

from django.conf import settings


class LoginThrottle:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
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

    def begin(self, key: str) -> bool:
        """Admit one more attempt for `key` unless recent failures plus attempts under way reach
        the limit. Every admitted attempt must be followed by `end`."""
        failures = self._recent(key, time.monotonic())
        pending = self._pending.get(key, 0)
        if (len(failures) if failures else 0) + pending >= settings.OCPP_LOGIN_FAILURE_LIMIT:
            return False
        self._pending[key] = pending + 1
        return True

    def end(self, key: str) -> None:
        pending = self._pending.pop(key, 0) - 1
        if pending > 0:
            self._pending[key] = pending

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
        self._pending.clear()


by_identity = LoginThrottle()
by_address = LoginThrottle()
