"""Hand-written fakes of Binance USD-M and Bybit v5 (private side) speaking their real wire
formats on 127.0.0.1, plus helpers to point arbtui's settings (and API-key variables) at
them. :func:`default_settings` is the shipped ``config.toml`` (Binance BTCUSDT paired with
Bybit BTCUSDT; Bybit inverse BTCUSD configured too)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from core.domain.config import Settings, load_config
from core.domain.orders import Fill, OrderIntent, Side
from core.domain.venue import OrderUpdate
from core.execution.limits import VenueLimiter
from core.execution.router import OrderRouter
from core.runtime.execution import build_execution
from core.venues.ccxt_base import LiveVenue
from tests.fake_venues.binance import FakeBinance
from tests.fake_venues.bybit import FakeBybit
from tests.fake_venues.common import Fault, aeventually

__all__ = [
    "ENV",
    "KEYS",
    "FakeBinance",
    "FakeBybit",
    "Fault",
    "Rig",
    "aeventually",
    "default_settings",
    "intent",
    "live_settings",
    "running",
]

#: Test credentials (what the fakes accept; what must never appear in any text we emit).
KEYS = {
    "binance": ("bnKEY7f3a9c5e1d2b4a6f8e0c9d7b", "bnSECRET0d1e2f3a4b5c6d7e8f9a0b1c2d3e"),
    "bybit": ("byKEYq8w7e6r5t4y3u2i1o0p", "bySECRETz9x8c7v6b5n4m3l2k1j0h9g8f7d6s5a4"),
}
ROOT = Path(__file__).resolve().parent.parent.parent
ENV = {
    "ARBTUI_BINANCE_KEY": KEYS["binance"][0],
    "ARBTUI_BINANCE_SECRET": KEYS["binance"][1],
    "ARBTUI_BYBIT_KEY": KEYS["bybit"][0],
    "ARBTUI_BYBIT_SECRET": KEYS["bybit"][1],
}


def default_settings() -> Settings:
    """The shipped ``config.toml``: Binance BTCUSDT + Bybit BTCUSDT (linear) and BTCUSD
    (inverse)."""
    return load_config(ROOT / "config.toml")


def live_settings(
    base: Settings,
    binance: FakeBinance | None = None,
    bybit: FakeBybit | None = None,
    *,
    timeout_ms: int = 1500,  # generous: a loaded CI machine; fault tests set their own
    grace_ms: int = 300,
    budget_s: float = 5.0,
    redis_url: str = "",
    prefix: str = "arbtui-test",
    block_s: float = 0.5,
    lease_s: float = 10.0,
) -> Settings:
    """``base`` with the venues pointed at the fakes and short timeouts for tests."""
    v = base.venues
    venues = msgspec.structs.replace(
        v,
        request_timeout_ms=timeout_ms,
        unknown_grace_ms=grace_ms,
        resolve_budget_s=budget_s,
        max_rate_wait_s=3.0,
        binance=msgspec.structs.replace(
            v.binance,
            rest_url=binance.url if binance else "",
            ws_url=f"{binance.ws}/ws" if binance else "",
            recv_window_ms=min(timeout_ms + grace_ms - 1, 5000),
        ),
        bybit=msgspec.structs.replace(
            v.bybit,
            rest_url=bybit.url if bybit else "",
            ws_url=f"{bybit.ws}/v5/private" if bybit else "",
            recv_window_ms=min(timeout_ms + grace_ms - 1, 5000),
        ),
    )
    queue = msgspec.structs.replace(
        base.queue,
        redis_url=redis_url,
        key_prefix=prefix,
        block_timeout_s=block_s,
        socket_timeout_s=block_s + 1.0,
        lease_s=lease_s,
    )
    return msgspec.structs.replace(base, venues=venues, queue=queue)


def intent(
    cid: str,
    venue: str = "binance",
    symbol: str = "BTCUSDT",
    side: Side = "buy",
    qty: str | Decimal = "0.2",
    *,
    reduce_only: bool = False,
    purpose: str = "entry",
) -> OrderIntent:
    """An order intent for tests (quantity in the venue's unit)."""
    return OrderIntent(cid, "BTC", venue, symbol, side, Decimal(qty), reduce_only, purpose, 0)


@dataclass
class Rig:
    """Both fakes, a router on them, and every update the router delivered."""

    fb: FakeBinance
    fy: FakeBybit
    settings: Settings
    router: OrderRouter
    venues: dict[str, LiveVenue]
    updates: list[OrderUpdate] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def of(self, cid: str) -> list[OrderUpdate]:
        return [u for u in self.updates if u.client_order_id == cid]

    def last(self, cid: str) -> OrderUpdate | None:
        mine = self.of(cid)
        return mine[-1] if mine else None

    def fills(self, cid: str) -> list[Fill]:
        return [u.fill for u in self.of(cid) if u.fill is not None]


@asynccontextmanager
async def running(base: Settings, *, start: bool = True, **kw: Any) -> AsyncIterator[Rig]:
    """Start both fakes and an in-process router (fresh limiters) on them; stop all after."""
    fb = await FakeBinance(*KEYS["binance"]).start()
    fy = await FakeBybit(*KEYS["bybit"]).start()
    settings = live_settings(base, fb, fy, **kw)
    limiters = {n: VenueLimiter(n, max_wait_s=3.0) for n in ("binance", "bybit")}
    router, venues = build_execution(settings, limiters=limiters)
    rig = Rig(fb, fy, settings, router, venues)
    router.listener = rig.updates.append
    router.on_latency = rig.latencies.append
    router.on_alert = rig.alerts.append
    task = None
    try:
        if start:
            await router.start()
            task = asyncio.get_running_loop().create_task(router.run())
        yield rig
    finally:
        await router.close()
        if task is not None:
            await task
        await fb.stop()
        await fy.stop()
