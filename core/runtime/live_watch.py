"""What a live session keeps checking while it trades (issue 11), on the engine's loop:

- **positions** (:meth:`LiveWatch.check`): every ``[venues] position_check_s``, and soon after
  every fill, kill, private-stream reconnect and position-stream update, each traded
  position is read by REST and handed to :meth:`Engine.venue_position` (the comparison and
  the policy live in :mod:`core.engine.reconcile`); a reading that may predate a fill is read
  again;
- **clock**: each venue's clock offset measured again every ``clock_resync_s`` (a timestamp
  refusal also re-measures it at once: :meth:`LiveVenue.place_report`);
- **dead-man switch**: while no feed is stale, the venue-side cancel-all countdown of every
  traded symbol is pushed back every third of ``deadman_s``; when feeds go stale or the loop
  stops, it is no longer pushed back and the venue cancels the open orders;
- **funding income**: venues that report funding only by REST (Binance ``FUNDING_FEE``
  income) are read every :data:`FUNDING_POLL_S` and each new row goes to the engine, which
  compares it with the ledger and books the venue's figure;
- **alerts**: rate-limit cuts from the venues' limiters, and private streams going down or
  coming back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.domain.records import VenueFundingReported
from core.domain.risk import TradingState
from core.domain.snapshot import FeedView
from core.execution.state import FundingReport

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.venues.ccxt_base import LiveVenue

log = logging.getLogger("arbtui.live")
Key = tuple[str, str]

CHECK_AFTER_S = 1.0
"""Delay of the position check asked for by a fill, a kill or a reconnect (lets the order's
own updates arrive first)."""
BUSY_RETRY_S = 2.0
"""A reading that could not be compared (an order in flight) is taken again after this."""
FUNDING_POLL_S = 300.0
"""Period of the funding-income read (settlements are hours apart)."""
ALERT_EVERY_S = 1.0


def to_reported(f: FundingReport) -> VenueFundingReported:
    """A venue's funding record as the engine's record of it."""
    return VenueFundingReported(
        f.venue, f.symbol, f.ts_ms, f.rate, f.position, f.amount, f.currency, f.raw
    )


class LiveWatch:
    """The periodic checks of one live session (module docstring). ``run`` until cancelled."""

    def __init__(self, engine: Engine, venues: dict[str, LiveVenue]) -> None:
        self.engine = engine
        self.venues = venues
        cfg = engine.settings.venues
        self.position_check_s = cfg.position_check_s
        self.clock_resync_s = cfg.clock_resync_s
        self.deadman_s = cfg.deadman_s
        self.started_ms = int(time.time() * 1000)
        self.checks = 0
        self.deadman_arms = 0
        self._due: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stream_state: dict[str, str] = {}
        self._connects: dict[str, int] = {}
        self._funding_seen: set[str] = set()
        self._check_failing: set[Key] = set()
        self._last_state = engine.state

    # ------------------------------------------------------------ positions
    def request_check(self, key: Key, after_s: float = CHECK_AFTER_S) -> None:
        """Read ``key``'s position after ``after_s`` (one pending check per key)."""
        if key in self._due or key[0] not in self.venues:
            return
        loop = asyncio.get_running_loop()
        self._due[key] = loop.call_later(after_s, lambda: self._start_check(key))

    def request_all(self, after_s: float = CHECK_AFTER_S) -> None:
        """A check of every traded position."""
        for key in self.engine.traded_keys():
            self.request_check(key, after_s)

    def _start_check(self, key: Key) -> None:
        self._due.pop(key, None)
        self._spawn(self.check(key))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, key: Key, source: str = "REST read") -> str:
        """Read ``key``'s position and hand it to the engine; the engine's verdict, or
        ``failed`` when the venue could not be read (alerted; read again next period)."""
        venue, symbol = key
        fills_before = self.engine.fill_counts.get(key, 0)
        try:
            qty = await self.venues[venue].position(symbol)
        except Exception as exc:  # PositionUnknown or no answer
            if key not in self._check_failing:  # once, until a read works again
                self._check_failing.add(key)
                self.engine.alert(
                    f"{venue} {symbol}: position check failed ({exc}); read again every "
                    "period and after every fill"
                )
            return "failed"
        if key in self._check_failing:
            self._check_failing.discard(key)
            self.engine.emit("state", f"{venue} {symbol}: position read again")
        self.checks += 1
        verdict = self.engine.venue_position(key, Decimal(qty), source, fills_before)
        if verdict == "busy":
            self.request_check(key, BUSY_RETRY_S)
        return verdict

    def on_update_filled(self, key: Key) -> None:
        """An order of ours on ``key`` filled: read the position once its updates are in."""
        self.request_check(key)

    def on_stream_position(self, venue: str, symbol: str) -> None:
        """The venue's position stream changed ``symbol``: compare it by REST soon."""
        self.request_check((venue, symbol), 0.5)

    # ------------------------------------------------------------ loops
    async def run(self) -> None:
        """Every loop of the module docstring, until cancelled."""
        loops = [self._alerts_loop(), self._funding_loop()]
        if self.position_check_s > 0:
            loops.append(self._every(self.position_check_s, self.request_all, 0.0))
        if self.clock_resync_s > 0:
            loops.append(self._every(self.clock_resync_s, self._resync))
        if self.deadman_s > 0:
            loops.append(self._deadman_loop())
        try:
            await asyncio.gather(*loops)
        finally:
            for handle in self._due.values():
                handle.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def _every(
        self, period_s: float, job: Callable[[], Any], first_s: float | None = None
    ) -> None:
        await asyncio.sleep(period_s if first_s is None else first_s)
        while True:
            res = job()
            if asyncio.iscoroutine(res):
                await res
            await asyncio.sleep(period_s)

    async def _resync(self) -> None:
        for name, venue in self.venues.items():
            try:
                await venue.resync()
            except Exception as exc:
                self.engine.alert(f"{name}: clock re-measure failed ({exc}); retried next period")

    def healthy(self) -> bool:
        """Feeds fresh (no stale venue): the dead-man countdown may be pushed back."""
        return not self.engine.stale_venues

    async def _deadman_loop(self) -> None:
        countdown_ms = int(self.deadman_s * 1000)
        told: set[str] = set()
        failing: set[tuple[str, str]] = set()  # alerted once until it works again
        while True:
            if self.healthy():
                for venue, symbol in self.engine.traded_keys():
                    v = self.venues.get(venue)
                    if v is None:
                        continue
                    try:
                        armed = await v.arm_deadman(symbol, countdown_ms)
                    except Exception as exc:
                        if (venue, symbol) not in failing:
                            failing.add((venue, symbol))
                            self.engine.alert(
                                f"{venue} {symbol}: dead-man switch not armed ({exc}); "
                                "retried every period, said again once it works"
                            )
                        continue
                    if (venue, symbol) in failing:
                        failing.discard((venue, symbol))
                        self.engine.emit("state", f"{venue} {symbol}: dead-man switch armed again")
                    if armed:
                        self.deadman_arms += 1
                    elif venue not in told:
                        told.add(venue)
                        self.engine.emit("state", v.deadman_note or f"{venue}: no dead-man switch")
            await asyncio.sleep(self.deadman_s / 3)

    async def _funding_loop(self) -> None:
        while True:
            for venue, symbol in self.engine.traded_keys():
                v = self.venues.get(venue)
                if v is None:
                    continue
                try:
                    rows = await v.funding_income(symbol, self.started_ms)
                except Exception as exc:
                    self.engine.alert(f"{venue} {symbol}: funding income read failed ({exc})")
                    continue
                for f in rows:
                    if f"{f.venue}:{f.exec_id}" not in self._funding_seen:
                        self._funding_seen.add(f"{f.venue}:{f.exec_id}")
                        self.engine.on_venue_funding(to_reported(f))
            await asyncio.sleep(FUNDING_POLL_S)

    async def _alerts_loop(self) -> None:
        while True:
            self.poll_alerts()
            await asyncio.sleep(ALERT_EVERY_S)

    def poll_alerts(self) -> None:
        """Limiter cuts and private-stream changes to the engine; a kill or a reconnect asks
        for a position check."""
        eng = self.engine
        for name, venue in self.venues.items():
            while venue.limiter.alerts:
                eng.alert(venue.limiter.alerts.pop(0))
            stream = venue.stream
            if stream is None:
                continue
            view: FeedView = stream.view()
            before = self._stream_state.get(name)
            if before is not None and view.state != before:
                if view.state == "live":
                    eng.emit("state", f"{name} private stream live again")
                else:
                    eng.alert(f"{name} private stream {view.state}: {view.note or 'no reason'}")
            self._stream_state[name] = view.state
            if stream.connects > self._connects.get(name, stream.connects):
                self.request_all()  # reconnected: what changed while it was down?
            self._connects[name] = stream.connects
        if eng.state is not self._last_state:
            if eng.state in (TradingState.HALTED, TradingState.REDUCING):
                self.request_all(CHECK_AFTER_S * 3)  # after a kill or flatten: is it flat?
            self._last_state = eng.state

    def views(self) -> tuple[FeedView, ...]:
        """The private streams' health, shown with the feeds."""
        out = []
        for venue in self.venues.values():
            stream = venue.stream
            if stream is not None:
                out.append(stream.view())
        return tuple(out)
