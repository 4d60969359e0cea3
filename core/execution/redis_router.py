"""Engine side of the Redis queue: intents out to ``arbtui worker`` processes, reports back.

An instrument added at run time (:meth:`RedisRouter.learn`) rides in every intent on it, so
that workers started with a config that lacks it trade it with the engine's spec.
``submit`` only appends to a local buffer (no await, no Redis call on the engine's hot path);
a writer task LPUSHes whatever accumulated in one round trip. A reader task pops this
engine's update list (Redis-side block timeout) and applies the reports to the engine's
:class:`~core.execution.state.OrderBook`, which also receives the engine process's own user
streams, so an order's updates arrive once whichever path is first. ``on_latency`` gets the
submit-to-venue latency the worker measured (wall clock of both processes, one host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from core.domain.config import QueueSettings
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderUpdate
from core.execution.redis_queue import (
    Envelope,
    ReliableQueue,
    decode_report,
    encode,
)
from core.execution.router import QueueStats
from core.execution.state import OrderBook

log = logging.getLogger("arbtui.execution")


class RedisRouter:
    """:class:`~core.execution.router.OrderRouter` over the Redis queue."""

    def __init__(
        self,
        qs: QueueSettings,
        venues: Mapping[str, Any],
        book: OrderBook,
        *,
        engine_id: str,
        client: Any = None,
    ) -> None:
        self.qs = qs
        self.venues = venues
        self.book = book
        self.engine_id = engine_id
        self.queue = ReliableQueue.connect(qs, client)
        self.r = self.queue.r
        self.listener: Callable[[OrderUpdate], None] | None = None
        self.on_latency: Callable[[float], None] | None = None
        self.on_alert: Callable[[str], None] | None = None
        self.bad_updates = 0
        self._buf: list[bytes] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self.carried: dict[tuple[str, str], InstrumentSpec] = {}
        """Instruments added at run time: their spec rides in every intent on them."""
        book.on_update = self._deliver

    def _deliver(self, upd: OrderUpdate) -> None:
        if self.listener is not None:
            self.listener(upd)

    def submit(self, intent: OrderIntent) -> None:
        """Buffer ``intent`` for the writer task (returns at once). A client order id this
        engine sent before goes out marked ``retry`` (looked up before any resend)."""
        retry = intent.client_order_id in self.book.orders
        self.book.track(intent)
        spec = self.carried.get((intent.venue, intent.symbol))
        self._buf.append(encode(Envelope(self.engine_id, time.time(), intent, retry, spec)))
        self._wake.set()

    def learn(self, spec: InstrumentSpec) -> None:
        """Orders on ``spec`` (added at run time) from now on: this process's venues (user
        streams, position reads) and book take it, and every intent on it carries it to the
        workers (:class:`~core.execution.redis_queue.Envelope` ``spec``)."""
        key = (spec.venue, spec.symbol)
        venue = self.venues.get(spec.venue)
        if venue is not None:
            venue.learn(spec)
        self.book.specs[key] = spec
        self.carried[key] = spec

    async def start(self) -> None:
        """Check Redis (PING) and start the venues (user streams, position reads)."""
        await self.queue.ping()
        for venue in self.venues.values():
            await venue.start()

    async def run(self) -> None:
        """Writer and reader loops until :meth:`close`."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._writer()), loop.create_task(self._reader())]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)

    async def _writer(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._buf:
                items, self._buf = self._buf, []
                try:
                    await self.queue.push(items)
                except Exception as exc:  # keep the intents, try again
                    log.error("redis push failed (%d intents kept): %s", len(items), exc)
                    self._buf[:0] = items
                    await asyncio.sleep(0.2)

    async def _reader(self) -> None:
        while not self._closing:
            try:
                items = await self.queue.pop_updates(self.engine_id)
            except Exception as exc:
                log.error("redis update read failed: %s", exc)
                await asyncio.sleep(0.2)
                continue
            for data in items:
                try:
                    rep = decode_report(data)
                except msgspec.ValidationError:
                    self.bad_updates += 1
                    continue
                if rep.latency_s is not None and self.on_latency is not None:
                    self.on_latency(rep.latency_s)
                self.book.apply(rep)

    async def flush(self) -> None:
        """Push anything buffered now (tests, shutdown)."""
        if self._buf:
            items, self._buf = self._buf, []
            await self.queue.push(items)

    async def stats(self) -> QueueStats:
        depth, age = await self.queue.depth()
        if self._buf:
            depth += len(self._buf)
        return QueueStats(depth, age, await self.queue.inflight())

    async def close(self) -> None:
        """Flush, stop the loops, close venues and the Redis client."""
        self._closing = True
        with contextlib.suppress(Exception):
            await self.flush()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await asyncio.gather(*(v.close() for v in self.venues.values()), return_exceptions=True)
        await self.r.aclose()
