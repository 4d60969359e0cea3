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

Units (HAZARDS: a reset time in ms read as seconds once blocked a venue for tens of thousands
of years): each header is read in its venue's documented unit, and an absolute reset time is
also read by its size (:func:`reset_wait_s`: above 1e11 it can only be epoch ms, above 1e9
epoch seconds, else a number of seconds). Whatever the venue says, no block lasts longer than
``max_block_s`` (default 300 s); a longer one is cut to it and logged as an alert
(:attr:`VenueLimiter.alerts`), so a misread header costs minutes, never the session.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping

from core.domain.errors import ArbtuiError

_BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")
log = logging.getLogger("arbtui.execution")

#: The longest block any venue answer can set (seconds); see the module docstring.
MAX_BLOCK_S = 300.0


def reset_wait_s(value: float, now_s: float) -> float:
    """Seconds from ``now_s`` (UNIX seconds) until a reset given as ``value``: epoch ms when
    ``value`` > 1e11 (year 5138 in seconds, 1973 in ms), epoch seconds when > 1e9, else
    already a number of seconds. Never negative."""
    if value > 1e11:
        return max(value / 1000.0 - now_s, 0.0)
    if value > 1e9:
        return max(value - now_s, 0.0)
    return max(value, 0.0)


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
        max_block_s: float = MAX_BLOCK_S,
        weight_limit: int = 2400,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.venue = venue
        self.max_wait_s = max_wait_s
        self.max_block_s = max_block_s
        self.weight_limit = weight_limit
        self.clock = clock
        self.wall = wall
        self.blocked_until = 0.0
        self.reason = ""
        self.blocks = 0
        self.alerts: list[str] = []

    def block_for(self, seconds: float, why: str) -> None:
        """Hold every request for ``seconds`` from now (keeps the later of two blocks), at
        most ``max_block_s``: a longer ask is cut to it, with an alert."""
        if seconds > self.max_block_s:
            alert = (
                f"{self.venue}: asked to wait {seconds:.0f} s ({why}); waiting "
                f"{self.max_block_s:.0f} s at most"
            )
            self.alerts.append(alert)
            log.error("%s", alert)
            seconds = self.max_block_s
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
                wait = max(wait, reset_wait_s(float(m.group(1)), self.wall()))
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
            wait = reset_wait_s(_float(h.get("x-ratelimit-reset")) or 0.0, self.wall())
            self.block_for(max(wait, 1.0), "x-ratelimit-remaining 0")
        if _float(h.get("x-ratelimit-remaining-1s")) == 0:
            self.block_for(1.0, "x-ratelimit-remaining-1s 0")
        if _float(h.get("x-bapi-limit-status")) == 0:
            reset = _float(h.get("x-bapi-limit-reset-timestamp"))  # documented: epoch ms
            wait = reset_wait_s(reset, self.wall()) if reset else 1.0
            limit = h.get("x-bapi-limit", "?")
            self.block_for(wait, f"X-Bapi-Limit-Status 0 of {limit}")


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
