"""An armed live engine on both fake venues with the pair open, wired as ``arbtui --live``
wires it (the runtime's EngineRouter, the position re-read, optionally the session's checks:
:class:`core.runtime.live_watch.LiveWatch`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from core.domain.config import Settings
from core.domain.risk import TradingState
from core.domain.venue import OrderUpdate
from core.engine.engine import Engine
from core.runtime.live_link import EngineRouter, reread_position
from core.runtime.live_watch import LiveWatch, to_reported
from core.runtime.wiring import Observers, attach_observers
from tests.conftest import aeventually
from tests.fake_venues import FakeBinance, FakeBybit, Rig, default_settings, running
from tests.fakes import DeferredRouter
from tests.helpers import bar
from tests.observers import observed

D = Decimal
SYMBOL = "BTCUSDT"
VENUES = ["binance", "bybit"]


def entering(
    settings: Settings | None = None, on_doubt: Callable[[tuple[str, str]], None] | None = None
) -> tuple[Engine, DeferredRouter]:
    """A live engine whose orders wait on a :class:`DeferredRouter` until the test answers
    them, both venues marked at 50,000, ARMED, the pair's entry sent (first leg only: the
    second goes once the test fills the first)."""
    eng = Engine(settings or default_settings(), mode="live")
    router = DeferredRouter()
    router.engine = eng
    eng.connect_router(router, on_doubt)
    for venue in VENUES:
        eng.on_event(bar(venue, SYMBOL, "2024-01-01T00:01", 50_000.0))
    eng.set_state(TradingState.ARMED, "test")
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    return eng, router


@dataclass
class Live:
    rig: Rig
    engine: Engine
    observers: Observers
    watch: LiveWatch | None = None

    def fake(self, venue: str) -> FakeBinance | FakeBybit:
        return self.rig.fb if venue == "binance" else self.rig.fy

    def texts(self, kind: str = "alert") -> list[str]:
        return [e.text for e in self.engine.log if e.kind == kind]


@asynccontextmanager
async def live(
    tmp_path: Path,
    tune: Callable[[Settings], Settings] | None = None,
    *,
    watch: bool = False,
) -> AsyncIterator[Live]:
    """An armed live engine on both fakes (through the runtime's EngineRouter, as
    ``--live`` wires it), its audit log at ``tmp_path/audit.db``, with the pair open: long
    0.2 BTC on one venue, short 0.2 BTC on the other. ``tune`` changes the settings first;
    ``watch`` runs the session's checks (``Live.watch``)."""
    base = observed(default_settings(), tmp_path)
    async with running(tune(base) if tune else base, timeout_ms=2000) as rig:  # loaded CI
        eng = Engine(rig.settings, mode="live")
        obs = attach_observers(eng, run_id="live-test")
        rereads: set[asyncio.Task[None]] = set()
        checks = LiveWatch(eng, rig.venues) if watch else None

        def doubt(key: tuple[str, str]) -> None:
            task = asyncio.get_running_loop().create_task(reread_position(eng, rig.venues, key))
            rereads.add(task)
            task.add_done_callback(rereads.discard)

        def on_update(up: OrderUpdate) -> None:
            eng.on_order_update(up)
            if checks is not None and up.fill is not None:
                checks.on_update_filled((up.venue, up.symbol))

        rig.router.listener = on_update
        if checks is not None:
            rig.router.book.on_funding = lambda f: eng.on_venue_funding(to_reported(f))
            rig.router.book.on_position = checks.on_stream_position
        eng.connect_router(EngineRouter(rig.router, rig.venues, eng), doubt)
        for venue in VENUES:
            eng.on_event(bar(venue, SYMBOL, "2024-01-01T00:01", 50_000.0))
        eng.set_state(TradingState.ARMED, "test")
        pair = eng.pairs[0]
        eng.drive(pair, pair.enter(1))
        await aeventually(lambda: pair.status == "open", timeout_s=10)
        assert {rig.fb.positions[SYMBOL], rig.fy.positions[SYMBOL]} == {D("0.2"), D("-0.2")}
        running_checks = (
            asyncio.get_running_loop().create_task(checks.run()) if checks is not None else None
        )
        lv = Live(rig, eng, obs, checks)
        try:
            yield lv
        finally:
            if running_checks is not None:
                running_checks.cancel()
            for task in list(rereads):
                task.cancel()
            lv.engine.disconnect_router()
            for close in lv.observers.closers:  # the last run's (a test may start another)
                try:
                    close()
                except Exception:  # a log left dead by the test: nothing to close
                    pass
