"""Venue rate limits shared by every task of the process (one limiter per venue).

Every REST call of a venue waits in :meth:`VenueLimiter.acquire` first; every answer's status
and headers go through :meth:`VenueLimiter.observe`. Sources:

- Binance USD-M "General Info / Limits": HTTP 429 = rate limit broken, ``Retry-After``
  (seconds); HTTP 418 = IP banned, ``Retry-After`` and the message ``IP banned until
  <epoch ms>``; ``X-MBX-USED-WEIGHT-1M`` counts the minute's weight against the
  ``REQUEST_WEIGHT`` limit (2400 in exchangeInfo).
- Bybit v5 "Rate Limit Rules": per UID and endpoint ``X-Bapi-Limit`` (the limit),
  ``X-Bapi-Limit-Status`` (requests left) and ``X-Bapi-Limit-Reset-Timestamp`` (when the
  window resets, **ms** since the epoch); exceeding it answers HTTP 200 with retCode 10006.
- The generic ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` (UNIX seconds) pair and
  ``x-ratelimit-remaining-1s`` are still read.

A wait longer than ``max_wait_s`` is not waited: :class:`RateLimited` is raised before
anything is sent, so an order is refused unsent instead of going out minutes late.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping

from core.domain.errors import ArbtuiError

_BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")


class RateLimited(ArbtuiError):
    """The venue asked us to wait longer than allowed; nothing was sent."""

    def __init__(self, venue: str, wait_s: float, why: str) -> None:
        super().__init__(f"{venue}: rate limited for {wait_s:.1f} s more ({why}); not sent")
        self.venue = venue
        self.wait_s = wait_s
        self.why = why


class VenueLimiter:
    """Blocks the venue's requests while the venue said so (see the module docstring).

    ``clock`` is monotonic seconds, ``wall`` UNIX seconds (for the venues' absolute times).
    """

    def __init__(
        self,
        venue: str,
        *,
        max_wait_s: float = 5.0,
        weight_limit: int = 2400,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.venue = venue
        self.max_wait_s = max_wait_s
        self.weight_limit = weight_limit
        self.clock = clock
        self.wall = wall
        self.blocked_until = 0.0
        self.reason = ""
        self.blocks = 0

    def block_for(self, seconds: float, why: str) -> None:
        """Hold every request for ``seconds`` from now (keeps the later of two blocks)."""
        until = self.clock() + max(seconds, 0.0)
        if until > self.blocked_until:
            self.blocked_until = until
            self.reason = why
            self.blocks += 1

    def wait_s(self) -> float:
        """Seconds left before requests may go."""
        return max(self.blocked_until - self.clock(), 0.0)

    async def acquire(self) -> None:
        """Wait until the venue may be called; raise :class:`RateLimited` if that is longer
        than ``max_wait_s``."""
        left = self.wait_s()
        if left <= 0:
            return
        if left > self.max_wait_s:
            raise RateLimited(self.venue, left, self.reason)
        await asyncio.sleep(left)

    def observe(self, status: int, headers: Mapping[str, str], body: str) -> None:
        """Read one answer's status and headers (any header case)."""
        h = {k.lower(): v for k, v in headers.items()}
        retry_after = _float(h.get("retry-after"))
        if status == 418:
            wait = retry_after or 0.0
            m = _BANNED_UNTIL.search(body or "")
            if m:
                wait = max(wait, int(m.group(1)) / 1000 - self.wall())
            self.block_for(wait or 60.0, f"HTTP 418 IP ban for {wait or 60.0:.0f} s")
        elif status == 429:
            wait = retry_after if retry_after is not None else 1.0
            self.block_for(wait, f"HTTP 429, Retry-After {wait:g} s")
        used = _float(h.get("x-mbx-used-weight-1m"))
        if used is not None and used >= self.weight_limit:
            now = self.wall()
            self.block_for(60.0 - now % 60.0, f"request weight {used:.0f}/{self.weight_limit}")
        remaining = _float(h.get("x-ratelimit-remaining"))
        if remaining is not None and remaining <= 0:
            reset = _float(h.get("x-ratelimit-reset")) or 0.0
            wait = reset - self.wall() if reset > 1e9 else reset
            self.block_for(max(wait, 1.0), "x-ratelimit-remaining 0")
        if _float(h.get("x-ratelimit-remaining-1s")) == 0:
            self.block_for(1.0, "x-ratelimit-remaining-1s 0")
        if _float(h.get("x-bapi-limit-status")) == 0:
            reset_ms = _float(h.get("x-bapi-limit-reset-timestamp"))
            wait = reset_ms / 1000 - self.wall() if reset_ms else 1.0
            limit = h.get("x-bapi-limit", "?")
            self.block_for(min(max(wait, 0.0), 60.0), f"X-Bapi-Limit-Status 0 of {limit}")


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


_SHARED: dict[str, VenueLimiter] = {}


def shared_limiter(venue: str, max_wait_s: float) -> VenueLimiter:
    """The process-wide limiter of ``venue`` (created on first use)."""
    lim = _SHARED.get(venue)
    if lim is None:
        lim = _SHARED[venue] = VenueLimiter(venue, max_wait_s=max_wait_s)
    return lim
