"""Reconnect pacing: exponential backoff with jitter, capped, and never more than one attempt
a second (DESIGN "Resilience"; HAZARDS H13).

The delay before attempt n+1 after n consecutive failures is drawn uniformly from
``[d/2, d]`` with ``d = min(cap, base x 2^(n-1))`` ("equal jitter": spread out, never above the
cap), and the start of any attempt is at least :data:`MIN_ATTEMPT_INTERVAL_S` after the start of
the previous one, whatever base and cap say. ``sleep`` and ``monotonic`` are injectable so a test
can run twenty failed handshakes on a virtual clock and still check the one-second rule.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

MIN_ATTEMPT_INTERVAL_S = 1.0
"""Attempts to connect start at least this far apart (seconds)."""


class Backoff:
    """Pacing of connection attempts for one socket.

    Call :meth:`wait` before every attempt, :meth:`failed` after a failed one and
    :meth:`succeeded` once a connection delivered data. ``attempts`` and ``failures`` count.
    """

    def __init__(
        self,
        base_s: float,
        cap_s: float,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        min_interval_s: float = MIN_ATTEMPT_INTERVAL_S,
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"backoff needs 0 < base ({base_s}) <= cap ({cap_s})")
        self.base_s = base_s
        self.cap_s = cap_s
        self.min_interval_s = min_interval_s
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_start: float | None = None
        self.consecutive_failures = 0
        self.attempts = 0
        self.failures = 0
        self.last_delay_s = 0.0

    def next_delay_s(self) -> float:
        """The jittered backoff delay before the next attempt (0 after a success), seconds."""
        n = self.consecutive_failures
        if n == 0:
            return 0.0
        d = min(self.cap_s, self.base_s * 2.0 ** min(n - 1, 60))
        return self._rng.uniform(d / 2, d)

    async def wait(self) -> float:
        """Sleep until the next attempt may start; return the seconds slept."""
        delay = self.next_delay_s()
        if self._last_start is not None:
            delay = max(delay, self._last_start + self.min_interval_s - self._monotonic())
        self.last_delay_s = max(delay, 0.0)
        if delay > 0:
            await self._sleep(delay)
        self._last_start = self._monotonic()
        self.attempts += 1
        return self.last_delay_s

    def failed(self) -> None:
        """The attempt failed (handshake refused, timed out, connection dropped before data)."""
        self.consecutive_failures += 1
        self.failures += 1

    def succeeded(self) -> None:
        """The connection is live (it delivered data): the next delay starts from base again."""
        self.consecutive_failures = 0
