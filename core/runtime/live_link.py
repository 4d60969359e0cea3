"""Live execution joined to the engine: the router's start-up checks, the engine's order path
to the router, order updates back, and the start-up position check.

:func:`live_task` is a host task (runs on the engine's loop). Start-up, in order: build and
start the router and venues (keys, one-way mode, lot sizes: any failure HALTs the engine with
the reason), read each traded instrument's position (an unreadable or non-zero position HALTs
the engine: the engine does not adopt positions it did not open), then connect the engine.
Cancels go to the venue directly; queue depth and order latency go to the metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from core.domain.orders import OrderIntent
from core.domain.records import VenueFundingReported
from core.domain.risk import TradingState
from core.execution.router import OrderRouter
from core.runtime.execution import build_execution

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.runtime.host import EngineHost
    from core.venues.ccxt_base import LiveVenue

STATS_EVERY_S = 1.0
REREAD_EVERY_S = 2.0


class EngineRouter:
    """What the engine calls (``submit``, ``cancel``), backed by the execution router."""

    def __init__(self, router: OrderRouter, venues: dict[str, LiveVenue], engine: Engine) -> None:
        self.router = router
        self.venues = venues
        self.engine = engine
        self._cancels: set[asyncio.Task[object]] = set()

    def submit(self, intent: OrderIntent) -> None:
        """Hand an intent to the router (non-blocking, engine loop thread)."""
        self.router.submit(intent)

    def cancel(self, venue: str, symbol: str, client_order_id: str) -> None:
        """Cancel one order at its venue; the answer arrives as an order update."""

        async def cancel() -> None:
            try:
                up = await self.venues[venue].cancel(symbol, client_order_id)
            except Exception as exc:  # the order may still fill: the sweep closes it
                self.engine.alert(f"cancel of {client_order_id} on {venue} failed: {exc}")
                return
            if up.status.final:
                self.engine.on_order_update(up)

        task = asyncio.get_running_loop().create_task(cancel())
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)


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
    router.listener = engine.on_order_update
    router.on_alert = engine.alert
    router.book.on_funding = lambda f: engine.on_venue_funding(
        VenueFundingReported(
            f.venue, f.symbol, f.ts_ms, f.rate, f.position, f.amount, f.currency, f.raw
        )
    )
    metrics = host.observers.metrics
    if metrics is not None:
        router.on_latency = lambda s: metrics.observe_order_latency("all", s)
    runner: asyncio.Task[None] | None = None
    try:
        await router.start()
        for key in engine.traded_keys():
            venue, symbol = key
            qty = await venues[venue].position(symbol)
            if qty != 0:
                halt(engine, f"{venue} {symbol} already holds {qty}: close it by hand first")
                return
        engine.connect_router(
            EngineRouter(router, venues, engine),
            lambda key: _spawn(reread_position(engine, venues, key)),
        )
        engine.emit("state", f"live execution ready on {', '.join(sorted(venues))}")
        runner = asyncio.get_running_loop().create_task(router.run())
        while True:
            if metrics is not None:
                metrics.set_queue_depth((await router.stats()).depth)
            await asyncio.sleep(STATS_EVERY_S)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        halt(engine, f"{type(exc).__name__}: {exc}")
    finally:
        engine.disconnect_router()  # its connections are closed: nothing more may be sent
        if runner is not None:
            runner.cancel()
        await router.close()
