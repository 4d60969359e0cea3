"""All the fakes together (Binance, BitMEX, Bybit public, REST), with the ``[feeds]`` settings
that point arbtui at them."""

from __future__ import annotations

from typing import Any

import msgspec

from core.domain.config import FeedSettings, Settings
from tests.fake_exchange.binance import FakeBinance
from tests.fake_exchange.bitmex import FakeBitmex
from tests.fake_exchange.bybit_public import FakeBybitPublic
from tests.fake_exchange.rest import FakeRest

FAST = {
    "stale_after_s": 0.6,
    "bitmex_pong_timeout_s": 0.4,
    "reconnect_base_s": 0.05,
    "reconnect_cap_s": 0.2,
    "rest_timeout_s": 2.0,
}


class FakeExchanges:
    def __init__(self, interval_s: float = 0.05) -> None:
        self.binance = FakeBinance(interval_s)
        self.bitmex = FakeBitmex(interval_s)
        self.bybit = FakeBybitPublic(interval_s)
        self.rest = FakeRest()

    async def start(self) -> None:
        await self.binance.start()
        await self.bitmex.start()
        await self.bybit.start()
        await self.rest.start()

    async def stop(self) -> None:
        await self.binance.stop()
        await self.bitmex.stop()
        await self.bybit.stop()
        await self.rest.stop()

    def feeds(self, **over: Any) -> FeedSettings:
        """``[feeds]`` pointing at these fakes, with fast timings (and ``over``)."""
        return FeedSettings(
            binance_ws_url=self.binance.url,
            binance_rest_url=self.rest.url,
            bitmex_ws_url=self.bitmex.url + "/realtime",
            bitmex_rest_url=self.rest.url,
            bybit_ws_url=self.bybit.url,
            bybit_rest_url=self.bybit.rest_url,
            **{**FAST, **over},
        )

    def settings(self, base: Settings, **over: Any) -> Settings:
        return msgspec.structs.replace(base, feeds=self.feeds(**over))
