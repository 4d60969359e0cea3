"""The settled-rate REST poller every venue's funding source shares.

Two loops on one ccxt client: the funding intervals (re-read every
``funding_info_refresh_s``) and the settled rates (every ``funding_rate_poll_s``, and a few
seconds after each settlement time the feed announced). The first read of settled rates only
sets a per-symbol baseline (a historical settlement must never be charged on a position held
now); every later row is published once as :class:`~core.domain.events.FundingSettled`.
Failures are counted, said once per failure as an alert, and retried within ``RETRY_S``.

A venue subclasses :class:`SettledRatePoller` with ``refresh_intervals(client)`` and
``fetch_settled(client, symbol, interval_ms)`` (its rows as ``(settlement ms, event)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from core.domain.config import FeedSettings
from core.domain.events import FundingSettled
from core.feeds.health import VenueStats
from core.feeds.sink import EventSink, wall_ms
from core.feeds.socket import Log
from core.feeds.together import run_together

HOUR_MS: Final = 3_600_000
DEFAULT_INTERVAL_MS: Final = 8 * HOUR_MS
SETTLE_POLL_DELAY_MS: Final = 5_000
RETRY_S: Final = 30.0


class SettledRatePoller:
    """The two REST loops for ``symbols`` of one venue (see the module docstring).
    ``client_factory()`` returns a ccxt async client pointed at the configured host; it is
    closed when :meth:`run` ends. ``intervals`` holds each symbol's funding interval (ms)."""

    venue: str = ""
    info_name: str = "funding intervals"
    """What the interval endpoint is called in logs (the venue's own name for it)."""
    rate_name: str = "settled rates"

    def __init__(
        self,
        symbols: Sequence[str],
        sink: EventSink,
        stats: VenueStats,
        settings: FeedSettings,
        client_factory: Callable[[], Any],
        *,
        next_settlement_ms: Mapping[str, int] | None = None,
        log: Log | None = None,
    ) -> None:
        self.symbols = list(symbols)
        self.sink = sink
        self.stats = stats
        self.cfg = settings
        self.client_factory = client_factory
        self.next_settlement_ms = next_settlement_ms if next_settlement_ms is not None else {}
        self._log = log or (lambda _k, _t: None)
        self.intervals: dict[str, int] = {}
        self.baseline: dict[str, int] = {}
        self.polls = 0
        self._wakes: tuple[asyncio.Event, asyncio.Event] | None = None

    def add_symbols(self, symbols: Sequence[str]) -> None:
        """Poll ``symbols`` too from now on (a pair added at run time): their intervals and
        a baseline of settled rates are read at once, not at the next period. Call on the
        poller's loop."""
        new = [s for s in symbols if s not in self.symbols]
        self.symbols.extend(new)
        if new and self._wakes is not None:
            for wake in self._wakes:
                wake.set()

    async def _sleep(self, delay: float, loop: int) -> None:
        """Sleep ``delay`` seconds, or until :meth:`add_symbols` wakes the loop (0: the
        intervals, 1: the settled rates)."""
        if self._wakes is None:
            await asyncio.sleep(delay)
            return
        wake = self._wakes[loop]
        try:
            await asyncio.wait_for(wake.wait(), delay)
        except TimeoutError:
            return
        wake.clear()

    def interval_ms(self, symbol: str) -> int | None:
        """The symbol's funding interval (ms); None until the intervals were read once."""
        return self.intervals.get(symbol)

    def set_interval(self, symbol: str, interval_ms: int) -> None:
        """Take a newly read interval; a change at run time is an alert."""
        old = self.intervals.get(symbol)
        if old is not None and old != interval_ms:
            self._log(
                "alert", f"{self.venue} {symbol}: funding interval now {interval_ms // HOUR_MS} h"
            )
        self.intervals[symbol] = interval_ms

    # -------------------------------------------------------------- to implement
    async def refresh_intervals(self, client: Any) -> None:
        """Read every symbol's funding interval once (:meth:`set_interval`)."""
        raise NotImplementedError

    async def fetch_settled(
        self, client: Any, symbol: str, interval_ms: int
    ) -> list[tuple[int, FundingSettled]]:
        """The venue's recent settlements of ``symbol`` as (settlement ms, event)."""
        raise NotImplementedError

    # ------------------------------------------------------------------- loops
    async def run(self) -> None:
        """Poll until cancelled."""
        client = self.client_factory()
        self._wakes = (asyncio.Event(), asyncio.Event())
        try:
            await run_together(self._info_loop(client), self._rate_loop(client))
        finally:
            await client.close()

    async def poll_settled(self, client: Any) -> list[FundingSettled]:
        """Read recent settlements of every symbol; publish those newer than the baseline."""
        out = []
        for s in self.symbols:
            interval = self.interval_ms(s) or DEFAULT_INTERVAL_MS
            rows = await self.fetch_settled(client, s, interval)
            parsed = sorted((p for p in rows if p[1].symbol == s), key=lambda p: p[0])
            if s not in self.baseline:
                self.baseline[s] = parsed[-1][0] if parsed else 0
                continue
            for when, ev in parsed:
                if when > self.baseline[s]:
                    self.baseline[s] = when
                    self.sink.publish(ev)
                    out.append(ev)
        self.polls += 1
        return out

    async def _info_loop(self, client: Any) -> None:
        while True:
            try:
                await self.refresh_intervals(client)
                delay = self.cfg.funding_info_refresh_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network, ccxt or bad rows: counted, said, retried
                self._failed(self.info_name, exc)
                delay = min(RETRY_S, self.cfg.funding_info_refresh_s)
            await self._sleep(delay, 0)

    async def _rate_loop(self, client: Any) -> None:
        while True:
            try:
                await self.poll_settled(client)
                delay = self._next_poll_s()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(self.rate_name, exc)
                delay = min(RETRY_S, self.cfg.funding_rate_poll_s)
            await self._sleep(delay, 1)

    def _next_poll_s(self) -> float:
        delay = self.cfg.funding_rate_poll_s
        now = wall_ms()
        for t in self.next_settlement_ms.values():
            due = (t + SETTLE_POLL_DELAY_MS - now) / 1000
            if 0 < due < delay:
                delay = due
        return delay

    def _failed(self, what: str, exc: Exception) -> None:
        self.stats.parse_errors += isinstance(exc, ValueError)
        self.stats.last_error = f"{what}: {type(exc).__name__}: {exc}"
        self._log("alert", f"{self.venue} REST {what} failed: {type(exc).__name__}: {exc}")
