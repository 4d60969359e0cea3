"""In-process order router: each intent runs as a task on the engine's own loop.

``submit`` starts the intent's task at once (no queue hop, DESIGN "never put an await or a
queue hop per event"); updates reach ``listener`` from the shared
:class:`~core.execution.state.OrderBook` on the same loop. Latency (``on_latency``) is
``time.perf_counter()`` from ``submit`` to the first venue call of the intent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderUpdate
from core.execution.executor import OrderExecutor, Timings
from core.execution.router import QueueStats
from core.execution.state import OrderBook
from core.execution.venue import ExecutionVenue


class InProcessRouter:
    """:class:`~core.execution.router.OrderRouter` on the caller's loop."""

    def __init__(
        self, venues: Mapping[str, ExecutionVenue], book: OrderBook, timings: Timings | None = None
    ) -> None:
        self.venues = venues
        self.book = book
        self.listener: Callable[[OrderUpdate], None] | None = None
        self.on_latency: Callable[[float], None] | None = None
        self.on_alert: Callable[[str], None] | None = None
        self.executor = OrderExecutor(
            venues, book, timings=timings or Timings(), on_start=self._started, on_alert=self._alert
        )
        self._waiting: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()
        book.on_update = self._deliver

    def _deliver(self, upd: OrderUpdate) -> None:
        if self.listener is not None:
            self.listener(upd)

    def _alert(self, text: str) -> None:
        if self.on_alert is not None:
            self.on_alert(text)

    def _started(self, cid: str) -> None:
        t0 = self._waiting.pop(cid, None)
        if t0 is not None and self.on_latency is not None:
            self.on_latency(time.perf_counter() - t0)

    def submit(self, intent: OrderIntent) -> None:
        """Start executing ``intent`` (returns at once)."""
        self._waiting.setdefault(intent.client_order_id, time.perf_counter())
        self.book.track(intent)
        task = asyncio.get_running_loop().create_task(self._run_one(intent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, intent: OrderIntent) -> None:
        try:
            await self.executor.execute(intent)
        finally:  # a coalesced duplicate never reaches a venue: it leaves the queue here
            self._waiting.pop(intent.client_order_id, None)

    def learn(self, spec: InstrumentSpec) -> None:
        """Orders on ``spec`` (added at run time) go to its venue from now on."""
        venue = self.venues.get(spec.venue)
        if venue is not None:
            venue.learn(spec)
        self.book.specs[(spec.venue, spec.symbol)] = spec

    async def start(self) -> None:
        """Start every venue (one-way mode and instrument checks, user streams)."""
        for venue in self.venues.values():
            start = getattr(venue, "start", None)
            if start is not None:
                await start()

    async def run(self) -> None:
        """Nothing to poll in-process: wait until :meth:`close`."""
        await self._closed.wait()

    async def stats(self) -> QueueStats:
        now = time.perf_counter()
        oldest = min(self._waiting.values(), default=now)
        return QueueStats(len(self._waiting), now - oldest, len(self.executor.inflight))

    async def close(self) -> None:
        """Cancel intents still running, close the venues."""
        self._closed.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        closers = [getattr(v, "close", None) for v in self.venues.values()]
        await asyncio.gather(*(c() for c in closers if c is not None), return_exceptions=True)
