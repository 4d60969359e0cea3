"""A Bybit symbol listed after an ``arbtui worker`` loaded its markets (issue 14: a pair added
at run time, whose spec rides in the intent's envelope), on the fake Bybit (v5 wire) and the
real Redis at 127.0.0.1:6379.

ccxt's ``create_order`` needs the symbol's market. Before, the worker's ``unified`` lookup
failed, the failure was classed as an unknown outcome, and the executor looked the order up
and sent it again until its resolve budget (60 s) ran out: a retry loop that never placed
the order. Now the worker reads that one market on first use (``BybitVenue.market_of``:
instruments-info of that symbol only), in the task of the intent on it: an order on a
configured instrument (a kill's close) placed meanwhile does not wait; a symbol the venue does
not list is REJECTED at once, naming why, nothing sent and nothing retried.

ETHUSDT rows: generated as in :mod:`tests.test_live_add_pair` (``list_eth``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.domain.venue import OrderStatus
from core.execution.worker import Worker
from tests.fake_venues import (
    ENV,
    KEYS,
    FakeBinance,
    FakeBybit,
    Fault,
    aeventually,
    default_settings,
    intent,
    live_settings,
)
from tests.redis_fixtures import REDIS, router_and_worker
from tests.test_add_pair import ETH_BYBIT
from tests.test_live_add_pair import list_eth

D = Decimal
S = OrderStatus
INFO = "/v5/market/instruments-info"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@dataclass
class Rig:
    fb: FakeBinance
    fy: FakeBybit
    router: Any
    worker: Worker
    updates: list[Any]
    seen_at: dict[tuple[str, OrderStatus], float]

    def status(self, cid: str) -> list[OrderStatus]:
        return [u.status for u in self.updates if u.client_order_id == cid]

    def reads(self, symbol: str) -> list[str]:
        return [r.query for r in self.fy.requests("GET", INFO) if f"symbol={symbol}" in r.query]


@pytest.fixture
async def rig(prefix: str) -> AsyncIterator[Rig]:
    """The shipped config's instruments (Bybit BTCUSDT, BTCUSD), the engine's Redis router
    and one worker, both started BEFORE the fake lists ETHUSDT."""
    fb = await FakeBinance(*KEYS["binance"]).start()
    fy = await FakeBybit(*KEYS["bybit"]).start()
    s = live_settings(
        default_settings(), fb, fy, redis_url=REDIS, prefix=prefix, block_s=0.2, timeout_ms=5000
    )
    updates: list[Any] = []
    seen_at: dict[tuple[str, OrderStatus], float] = {}

    def on_update(u: Any) -> None:
        updates.append(u)
        seen_at.setdefault((u.client_order_id, u.status), time.monotonic())

    try:
        async with router_and_worker(s, "eng-listing", on_update) as (router, worker, _):
            yield Rig(fb, fy, router, worker, updates, seen_at)
    finally:
        await fb.stop()
        await fy.stop()


async def test_a_symbol_listed_after_the_worker_started_is_read_once_and_traded(
    rig: Rig,
) -> None:
    fy = rig.fy
    bybit = rig.worker.venues["bybit"]
    assert not bybit.client.markets_by_id.get("ETHUSDT")  # loaded at start, before listing
    list_eth(rig.fb, fy)  # the venues list ETHUSDT from now on
    fy.price = D("2999")
    fy.positions["BTCUSDT"] = D("0.2")  # a configured instrument's position, to close
    fy.inject("GET " + INFO, Fault(respond_after_s=1.5), times=2)  # the market read is slow
    rig.router.learn(ETH_BYBIT)
    t0 = time.monotonic()
    rig.router.submit(intent("nl-eth-1", "bybit", "ETHUSDT", "buy", "3.33"))
    await aeventually(lambda: len(rig.reads("ETHUSDT")) == 2, 5.0)
    # a kill's reduce-only close on a configured instrument while that read is held
    t_close = time.monotonic()
    rig.router.submit(
        intent("nl-btc-kill", "bybit", "BTCUSDT", "sell", "0.2", reduce_only=True, purpose="kill")
    )
    await aeventually(lambda: S.FILLED in rig.status("nl-eth-1"), 10.0)
    closed = rig.seen_at[("nl-btc-kill", S.FILLED)] - t_close
    eth = rig.seen_at[("nl-eth-1", S.FILLED)] - t0
    assert closed < 1.0 < 1.5 <= eth  # the close never waited on the 1.5 s read
    assert fy.positions["BTCUSDT"] == D(0)
    # the order went out with the engine's spec and the market read for it
    (order,) = fy.placed("nl-eth-1")
    assert (order.symbol, order.side, order.qty) == ("ETHUSDT", "Buy", D("3.33"))
    (created,) = [
        json.loads(r.body) for r in fy.requests("POST", "/v5/order/create") if "nl-eth-1" in r.body
    ]
    assert (created["symbol"], created["category"], created["qty"]) == ("ETHUSDT", "linear", "3.33")
    assert sorted(rig.reads("ETHUSDT")) == [
        "category=linear&symbol=ETHUSDT&limit=1000",
        "category=linear&symbol=ETHUSDT&limit=1000&status=PreLaunch",
    ]  # that one symbol (the listed and the pre-launch rows), not every market again
    # a second order on it reads nothing more
    rig.router.submit(intent("nl-eth-2", "bybit", "ETHUSDT", "sell", "3.33", reduce_only=True))
    await aeventually(lambda: S.FILLED in rig.status("nl-eth-2"), 5.0)
    assert len(rig.reads("ETHUSDT")) == 2
    assert fy.positions["ETHUSDT"] == D(0)


async def test_a_symbol_the_venue_does_not_list_is_rejected_at_once_naming_why(
    rig: Rig,
) -> None:
    fy = rig.fy
    sol = ETH_BYBIT.__class__(
        **{f: getattr(ETH_BYBIT, f) for f in ETH_BYBIT.__struct_fields__} | {"symbol": "SOLUSDT"}
    )
    rig.router.learn(sol)
    rig.router.submit(intent("nl-sol-1", "bybit", "SOLUSDT", "buy", "1"))
    await aeventually(lambda: S.REJECTED in rig.status("nl-sol-1"), 5.0)
    (rejected,) = [u for u in rig.updates if u.client_order_id == "nl-sol-1"]
    assert rejected.reason == (
        "bybit SOLUSDT: not sent: its market could not be read "
        "(bybit: SOLUSDT (linear) is not listed)"
    )
    await asyncio.sleep(1.0)  # nothing more: no look-up, no second send, no second read
    assert [u.status for u in rig.updates if u.client_order_id == "nl-sol-1"] == [S.REJECTED]
    assert not fy.requests("POST", "/v5/order/create")
    assert not [r for r in fy.requests("GET", "/v5/order/realtime") if "nl-sol-1" in r.query]
    assert len(rig.reads("SOLUSDT")) == 2
    assert (await rig.router.stats()).depth == 0  # acknowledged, not left in the queue
