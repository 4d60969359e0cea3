"""Binance funding over REST through ccxt against the fake: intervals from fundingInfo gate
the estimate, and a new settled rate is published once with the venue's settlement mark."""

from __future__ import annotations

from decimal import Decimal

from core.domain.events import FundingRate, FundingSettled, Quote
from core.venues.binance.feed import BinanceFeed
from core.venues.binance.funding import BinanceFunding
from core.venues.binance.plugin import make_exchange
from tests.feed_helpers import Collect, fakes, running, until


async def test_estimate_waits_for_funding_info_and_new_settlements_are_published_once() -> None:
    async with fakes() as fx:
        fx.rest.fail = True
        fx.rest.funding_rows = 2
        c = Collect()
        cfg = fx.feeds(funding_rate_poll_s=0.1, funding_info_refresh_s=0.1)
        stats = c.board.venue("binance")
        funding = BinanceFunding(
            ["BTCUSDT"],
            c.sink,
            stats,
            cfg,
            lambda: make_exchange(cfg, asynchronous=True),
        )
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, cfg, interval_ms=funding.interval_ms)
        async with running(feed.run(), funding.run()):
            await until(lambda: len(c.of(Quote)) >= 4)
            assert c.of(FundingRate) == []  # interval unknown: no rate on a guessed interval
            assert "503" in stats.last_error or "overloaded" in stats.last_error
            fx.rest.fail = False
            await until(lambda: len(c.of(FundingRate)) == 1, timeout_s=40)
            await until(lambda: "BTCUSDT" in funding.baseline, timeout_s=40)
            assert c.of(FundingSettled) == []  # the two rows already there are history
            fx.rest.funding_rows = 3
            await until(lambda: len(c.of(FundingSettled)) == 1, timeout_s=40)
            polls = funding.polls
            await until(lambda: funding.polls >= polls + 2)
        est = c.of(FundingRate)[0]
        assert est.interval_ms == 8 * 3_600_000 and est.rate == Decimal("0.00000078")
        (s,) = c.of(FundingSettled)
        assert s.rate == Decimal("-0.00003657") and s.mark_price == Decimal("84102.70600725")
        assert s.raw_ts == "1791360000002"
        assert all(
            r.startswith(("/fapi/v1/fundingInfo", "/fapi/v1/fundingRate")) for r in fx.rest.requests
        )
