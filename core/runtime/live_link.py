"""Live execution joined to the engine: the router's start-up checks, the engine's order path
to the router, order updates back, and the start-up look at what the venues already hold.

:func:`live_task` is a host task (runs on the engine's loop). Start-up, in order: build and
start the router and venues (keys, one-way mode, lot sizes: any failure HALTs the engine with
the reason), read each traded instrument's position and open orders and the last run's audit
log (:mod:`core.runtime.restart`; a failed read HALTs), connect the engine, adopt what the last
run left as it left it and HALT for the operator's answer on anything else
(:mod:`core.engine.restart`, ``[risk] on_restart``), then
start the session's checks (:mod:`core.runtime.live_watch`: positions, clock, dead-man switch,
funding income, private-stream health). Once connected, a pair added at run time is checked at
its venues and taught to the order path by :func:`core.runtime.live_add.admit`
(``EngineHost.live_add``). Cancels go to the venue directly; queue depth and
order latency go to the metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from core.domain.errors import EXIT_FAILED
from core.domain.orders import OrderIntent
from core.domain.risk import TradingState
from core.domain.venue import OrderUpdate
from core.execution.router import OrderRouter
from core.runtime.execution import build_execution
from core.runtime.live_add import admit
from core.runtime.live_watch import LiveWatch, to_reported
from core.runtime.restart import look_at_start

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.runtime.host import EngineHost
    from core.venues.ccxt_base import LiveVenue

STATS_EVERY_S = 1.0
REREAD_EVERY_S = 2.0
CLEAR_WAIT_S = 1.0
"""Longest the kill switch's closes on a symbol wait for its cancel-all's answer."""


class EngineRouter:
    """What the engine calls (``submit``, ``cancel``, ``cancel_all``), backed by the execution
    router.

    The kill switch's ``cancel_all(venue, symbol)`` cancels every open order of the symbol
    at the venue (orders the engine does not know included); while it is under way, the
    reduce-only closes on that symbol wait for its answer (at most :data:`CLEAR_WAIT_S`) so
    that they go out after the cancels, and the engine's own cancels on it become look-ups
    (the venue has cancelled them already).
    """

    def __init__(self, router: OrderRouter, venues: dict[str, LiveVenue], engine: Engine) -> None:
        self.router = router
        self.venues = venues
        self.engine = engine
        self._cancels: set[asyncio.Task[object]] = set()
        self._clearing: dict[tuple[str, str], asyncio.Task[object]] = {}

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> asyncio.Task[object]:
        task = asyncio.get_running_loop().create_task(coro)
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
        return task

    def _after_clearing(self, key: tuple[str, str], then: Callable[[], None]) -> bool:
        """Run ``then`` once the cancel-all on ``key`` has answered (or after
        :data:`CLEAR_WAIT_S`); False if no cancel-all is under way there."""
        task = self._clearing.get(key)
        if task is None or task.done():
            return False
        done = False

        def go(*_: object) -> None:
            nonlocal done
            if not done:
                done = True
                then()

        task.add_done_callback(go)
        asyncio.get_running_loop().call_later(CLEAR_WAIT_S, go)
        return True

    def submit(self, intent: OrderIntent) -> None:
        """Hand an intent to the router (non-blocking, engine loop thread)."""
        key = (intent.venue, intent.symbol)
        if intent.reduce_only and self._after_clearing(key, lambda: self.router.submit(intent)):
            return
        self.router.submit(intent)

    def cancel_all(self, venue: str, symbol: str) -> None:
        """Cancel every open order on ``symbol`` at ``venue`` (the kill switch)."""
        key = (venue, symbol)
        if key in self._clearing and not self._clearing[key].done():
            return

        async def clear() -> None:
            try:
                await self.venues[venue].cancel_all(symbol)
            except Exception as exc:  # closes go out anyway: the sweep closes late fills
                self.engine.alert(
                    f"kill switch: cancelling every open order on {venue} {symbol} failed: "
                    f"{exc}; closing reduce-only anyway"
                )
                return
            self.engine.emit("state", f"{venue} {symbol}: every open order cancelled")

        self._clearing[key] = self._spawn(clear())

    def cancel(self, venue: str, symbol: str, client_order_id: str) -> None:
        """Cancel one order at its venue; the answer arrives as an order update."""

        async def cancel() -> None:
            try:
                up = await self.venues[venue].cancel(symbol, client_order_id)
            except Exception as exc:  # the order may still fill: the sweep closes it
                self.engine.alert(f"cancel of {client_order_id} on {venue} failed: {exc}")
                return
            if up.status.final and client_order_id in self.engine.live_orders:
                self.engine.on_order_update(up)

        async def look_up() -> None:
            try:
                up = await self.venues[venue].query(symbol, client_order_id)
            except Exception as exc:  # the user stream still brings the cancel
                self.engine.alert(f"look-up of {client_order_id} on {venue} failed: {exc}")
                return
            if up.status.final and client_order_id in self.engine.live_orders:
                self.engine.on_order_update(up)

        def after_clearing() -> None:
            self._spawn(look_up())

        if not self._after_clearing((venue, symbol), after_clearing):
            self._spawn(cancel())


_background: set[asyncio.Task[None]] = set()


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def reread_position(
    engine: Engine, venues: dict[str, LiveVenue], key: tuple[str, str]
) -> None:
    """Read ``key``'s position until the venue answers (every :data:`REREAD_EVERY_S`), then
    hand it to ``engine.resolve_position``; meanwhile no close is sent on it."""
    venue, symbol = key
    while key in engine.unknown_positions:
        try:
            qty = await venues[venue].position(symbol)
        except Exception as exc:  # PositionUnknown or a transport error: try again
            engine.alert(f"{venue} {symbol}: position read failed ({exc}); retrying")
            await asyncio.sleep(REREAD_EVERY_S)
            continue
        engine.resolve_position(key, qty)
        return


def halt(engine: Engine, why: str) -> None:
    """Stop all trading for a reason the operator must read."""
    engine.alert(f"live trading halted: {why}")
    engine.set_state(TradingState.HALTED, why)


async def live_task(host: EngineHost) -> None:
    """Host task for ``arbtui --live``: see the module docstring."""
    engine = host.engine
    settings = engine.settings
    try:
        router, venues = build_execution(settings)
    except Exception as exc:
        halt(engine, f"execution not available: {exc}")
        return
    watch = LiveWatch(engine, venues)

    def on_update(up: OrderUpdate) -> None:
        engine.on_order_update(up)
        if up.fill is not None:
            watch.on_update_filled((up.venue, up.symbol))

    for pr in engine.pairs:  # restored at start-up: with Redis, their specs ride to workers
        if pr.cfg.name in engine.run_time_pairs:
            for key in (pr.key_a, pr.key_b):
                router.learn(engine.specs[key])
    router.listener = on_update
    router.on_alert = engine.alert
    router.book.on_funding = lambda f: engine.on_venue_funding(to_reported(f))
    router.book.on_position = watch.on_stream_position
    market_views = host.feed_views
    host.feed_views = lambda: market_views() + watch.views()
    metrics = host.observers.metrics
    if metrics is not None:
        router.on_latency = lambda s: metrics.observe_order_latency("all", s)
    runner: asyncio.Task[None] | None = None
    watching: asyncio.Task[None] | None = None
    try:
        await router.start()
        found = await look_at_start(engine, venues)
        engine.connect_router(
            EngineRouter(router, venues, engine),
            lambda key: _spawn(reread_position(engine, venues, key)),
        )
        host.live_add = lambda specs: admit(router, venues, specs)  # a pair added at run time
        engine.begin_restart(found)  # no await since connecting: nothing trades before it
        answer = settings.risk.on_restart
        if engine.restart_review is not None and answer != "ask":
            engine.settle_restart(answer)
        engine.emit("state", f"live execution ready on {', '.join(sorted(venues))}")
        runner = asyncio.get_running_loop().create_task(router.run())
        watching = asyncio.get_running_loop().create_task(watch.run())
        while True:
            if metrics is not None:
                metrics.set_queue_depth((await router.stats()).depth)
            await asyncio.sleep(STATS_EVERY_S)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        halt(engine, f"{type(exc).__name__}: {exc}")
        host.exit_code = max(host.exit_code, EXIT_FAILED)  # the run failed: exit 1
    finally:
        host.live_add = None
        engine.disconnect_router()  # its connections are closed: nothing more may be sent
        for task in (runner, watching):
            if task is not None:
                task.cancel()
        await router.close()
