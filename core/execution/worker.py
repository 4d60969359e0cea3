"""An executor process on the Redis queue (``arbtui worker``; HAZARDS H15).

Loop: BLMOVE the oldest pending intent into this worker's processing list (Redis-side block
timeout) and, in the same breath, up to :data:`CLAIM_BATCH` more with non-blocking LMOVEs;
execute each (:class:`~core.execution.executor.OrderExecutor`); push its reports to the
engine's update list and LREM it, in one MULTI shared by whatever finished together.

Exactly once: a first delivery goes straight to the venue, and marks the client id busy
(SET NX) without waiting for it; an item re-queued from a dead worker (marked redelivered by
the watcher) or an intent the engine marked ``retry`` waits for the id's busy key, then is
looked up at the venue and only sent if the venue does not know it. A heartbeat renews the
worker's lease every ``lease_s / 5``; a watcher (every worker runs one) re-queues the
processing lists of workers whose lease expired. A worker that finds its own lease gone
stops and sends nothing more (it was declared dead and its items went to others). An intent
on an instrument the engine added at run time carries its spec; a worker that does not know
the instrument learns it from there (a venue client whose markets were loaded before the
symbol was listed reads that one market when the order needs it: Bybit ``market_of``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from core.domain.config import QueueSettings
from core.domain.events import InstrumentSpec
from core.domain.venue import OrderStatus
from core.execution.executor import OrderExecutor, Timings
from core.execution.redis_queue import (
    ReliableQueue,
    decode_envelope,
    encode,
    redelivered,
    worker_id,
)
from core.execution.state import OrderBook, Report
from core.execution.venue import ExecutionVenue

log = logging.getLogger("arbtui.execution")
CLAIM_BATCH = 16
CLAIM_SKIP = 8


def _suspect(item: bytes) -> bool:
    """A redelivered item or an intent marked ``retry``: look up before sending."""
    return redelivered(item) or decode_envelope(item).retry


class RedisClaims:
    """:class:`~core.execution.executor.Claims` for one queue item. Not ``suspect`` (first
    delivery): the id is fresh (the claim loop marks it busy in Redis in the same round trip
    as the next batch). ``suspect``: wait (at most ``lease_s``) until no other executor holds
    the id's busy key, take it; the id is not fresh (look it up before any send)."""

    def __init__(self, queue: ReliableQueue, worker: str, lease_s: float, suspect: bool) -> None:
        self.queue = queue
        self.worker = worker
        self.lease_s = lease_s
        self.suspect = suspect

    async def claim(self, cid: str) -> bool:
        if not self.suspect:
            return True
        deadline = time.monotonic() + self.lease_s
        while not await self.queue.take_busy(cid, self.worker, self.lease_s):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return False

    async def release(self, cid: str) -> None:
        return None  # the acknowledging MULTI deletes the busy key


class _Acks:
    """Acknowledgements of items that finished together go out in one MULTI."""

    def __init__(self, queue: ReliableQueue, worker: str) -> None:
        self.queue = queue
        self.worker = worker
        self.pending: list[tuple[tuple[bytes, str, list[bytes], str], asyncio.Future[None]]] = []
        self.wake = asyncio.Event()

    async def finish(self, item: bytes, engine: str, reports: list[bytes], cid: str) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(((item, engine, reports, cid), fut))
        self.wake.set()
        await fut

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    await self.queue.finish_many(self.worker, [e for e, _ in batch])
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)


class Worker:
    """Executes intents from the queue on ``venues`` (by venue name)."""

    def __init__(
        self,
        qs: QueueSettings,
        venues: Mapping[str, ExecutionVenue],
        book: OrderBook,
        timings: Timings | None = None,
        *,
        wid: str | None = None,
        client: Any = None,
    ) -> None:
        self.qs = qs
        self.venues = venues
        self.book = book
        self.id = wid or worker_id()
        self.queue = ReliableQueue.connect(qs, client)
        self.r = self.queue.r
        self.timings = timings or Timings()
        self.fenced = False
        self.done = 0
        self.requeued = 0
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._slot = asyncio.Event()
        self._acks = _Acks(self.queue, self.id)

    async def start(self) -> None:
        """PING Redis, start the venues, take the lease."""
        await self.queue.ping()
        for venue in self.venues.values():
            start = getattr(venue, "start", None)
            if start is not None:
                await start()
        await self.queue.register(self.id, self.qs.lease_s)

    def stop(self) -> None:
        """Stop taking work (the running intents finish)."""
        self._stop.set()

    async def run(self) -> None:
        """Heartbeat, watcher, acknowledgements and the claim loop until :meth:`stop`."""
        loop = asyncio.get_running_loop()
        aux = [
            loop.create_task(self._heartbeat()),
            loop.create_task(self._watcher()),
            loop.create_task(self._acks.run()),
        ]
        try:
            await self._claim_loop()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for t in aux:
                t.cancel()
            for t in aux:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            if not self.fenced:
                with contextlib.suppress(Exception):
                    await self.queue.deregister(self.id)

    async def close(self) -> None:
        """Close venues and the Redis client."""
        closers = [getattr(v, "close", None) for v in self.venues.values()]
        await asyncio.gather(*(c() for c in closers if c is not None), return_exceptions=True)
        await self.r.aclose()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.qs.lease_s / 5)
            try:
                alive = await self.queue.heartbeat(self.id, self.qs.lease_s)
            except Exception as exc:
                log.error("worker %s heartbeat failed: %s", self.id, exc)
                continue
            if not alive:
                log.error("worker %s lost its lease: stopping, sending nothing more", self.id)
                self.fenced = True
                self._stop.set()
                return

    async def _watcher(self) -> None:
        while True:
            await asyncio.sleep(min(self.qs.lease_s / 2, 1.0))
            try:
                self.requeued += await self.queue.requeue_dead()
            except Exception as exc:
                log.error("worker %s watcher failed: %s", self.id, exc)

    async def _claim_loop(self) -> None:
        cap = self.qs.max_inflight
        skip = 0  # after an empty batch, skip batching for a while (paced traffic)
        while not self._stop.is_set():
            while self._running >= cap:
                self._slot.clear()
                await self._slot.wait()
            try:
                item = await self.queue.claim(self.id)
                if item is None:
                    continue
                marked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._spawn(item, marked)
                await asyncio.sleep(0)  # let it reach the venue before the batch below
                mark = [] if _suspect(item) else [decode_envelope(item).intent.client_order_id]
                room = min(CLAIM_BATCH - 1, cap - self._running)
                if skip > 0 and room > 0:
                    skip -= 1
                    room = 0
                try:
                    more = await self.queue.claim_more(self.id, room, self.qs.lease_s, mark)
                finally:
                    marked.set_result(None)
                for it in more:
                    self._spawn(it)
                if room and not more:
                    skip = CLAIM_SKIP
            except msgspec.ValidationError:
                continue
            except Exception as exc:
                log.error("worker %s claim failed: %s", self.id, exc)
                await asyncio.sleep(0.2)

    def _spawn(self, item: bytes, marked: asyncio.Future[None] | None = None) -> None:
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._handle(item, marked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, item: bytes, marked: asyncio.Future[None] | None) -> None:
        try:
            await self._execute(item, marked)
        except Exception:  # the item stays in processing for a re-queue
            log.exception("worker %s: intent failed", self.id)
        finally:
            self._running -= 1
            self._slot.set()

    def _learn(self, spec: InstrumentSpec) -> None:
        """An intent on an instrument the engine added at run time brings its spec (checked
        at the venue by the engine's process): a venue that does not know the instrument
        takes it; one that does keeps its own (this worker's config)."""
        key = (spec.venue, spec.symbol)
        venue = self.venues.get(spec.venue)
        if venue is None or key in venue.specs:
            return
        venue.learn(spec)
        self.book.specs.setdefault(key, spec)
        log.info("worker %s: %s %s learnt from the engine (added at run time)", self.id, *key)

    async def _execute(self, item: bytes, marked: asyncio.Future[None] | None) -> None:
        try:
            env = decode_envelope(item)
        except msgspec.ValidationError as exc:
            log.error("worker %s: dropping a malformed queue item: %s", self.id, exc)
            await self._acks.finish(item, "invalid", [], "")
            return
        if self.fenced:
            return
        if env.spec is not None:
            self._learn(env.spec)
        cid = env.intent.client_order_id
        out: list[Report] = []
        latency: list[float] = []
        pushes: list[asyncio.Task[None]] = []

        def on_start(_: str) -> None:
            latency.append(time.time() - env.t)

        def emit(rep: Report) -> None:
            if rep.cid != cid:
                return
            if latency and not out and not pushes:
                rep = msgspec.structs.replace(rep, latency_s=latency[0])
            if rep.status is OrderStatus.UNKNOWN:
                pushes.append(
                    asyncio.get_running_loop().create_task(
                        self.queue.send_reports(env.engine, [encode(rep)])
                    )
                )
            else:
                out.append(rep)

        claims = RedisClaims(
            self.queue, self.id, self.qs.lease_s, suspect=env.retry or redelivered(item)
        )
        executor = OrderExecutor(
            self.venues,
            self.book,
            claims=claims,
            timings=self.timings,
            emit=emit,
            on_start=on_start,
        )
        await executor.execute(env.intent)
        if pushes:
            await asyncio.gather(*pushes, return_exceptions=True)
        if marked is not None:  # its busy key is set: the acknowledgement may delete it
            await marked
        await self._acks.finish(item, env.engine, [encode(r) for r in out], cid)
        self.done += 1
