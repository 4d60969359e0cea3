"""The funding scanner's universe readers (core/venues/*/universe.py, through ccxt) and the
assembled scanner (core/runtime/scanner.py) against the fake universe endpoints on 127.0.0.1
(tests/fake_exchange/universe.py: the real and documented rows, plus generated GEN rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec
import pytest

from core.domain.config import Settings, load_config
from core.domain.errors import BadInput
from core.domain.universe import Perp
from core.runtime.scanner import Scanner
from core.venues import registry
from tests.conftest import ROOT
from tests.fake_exchange.universe import FakeUniverse

NOW = 1_796_000_000_000  # 2026-11-30T02:13:20Z


@pytest.fixture
async def fake() -> AsyncIterator[FakeUniverse]:
    f = await FakeUniverse().start()
    yield f
    await f.stop()


def settings_for(f: FakeUniverse) -> Settings:
    st = load_config(ROOT / "config.toml")
    feeds = msgspec.structs.replace(st.feeds, binance_rest_url=f.url, bybit_rest_url=f.url)
    return msgspec.structs.replace(st, feeds=feeds)


async def read(f: FakeUniverse, venue: str) -> dict[str, Perp]:
    make = registry.plugin(venue).open_universe
    assert make is not None
    src = make(settings_for(f).feeds, None)
    try:
        return {p.symbol: p for p in await src.read()}
    finally:
        await src.close()


def test_every_live_venue_has_a_scanner_source_and_history_has_none() -> None:
    have = {n: registry.plugin(n).open_universe is not None for n in registry.names()}
    assert have == {"binance": True, "bybit": True, "bitmex": False}


async def test_binance_universe_joins_premium_index_funding_info_exchange_info(
    fake: FakeUniverse,
) -> None:
    perps = await read(fake, "binance")
    # real premiumIndex + fundingInfo + exchangeInfo row (BTCUSDT), volume generated
    btc = perps["BTCUSDT"]
    assert (btc.kind, btc.base, btc.quote, btc.settle) == ("linear", "BTC", "USDT", "USDT")
    assert (btc.mark, btc.index, btc.next_rate) == (83067.3, 83114.69956522, 0.00000078)
    assert (btc.next_funding_ms, btc.interval_h, btc.cap, btc.floor) == (
        1791388800000, 8.0, 0.003, -0.003,
    )  # fmt: skip
    assert (btc.tick, btc.lot, btc.min_qty, btc.min_notional) == (
        Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(5),
    )  # fmt: skip
    assert (btc.taker_fee, btc.volume_24h_usd, btc.open_interest_usd) == (
        0.0005, 9876543210.12, None,
    )  # fmt: skip
    # real rows: 4 h intervals from fundingInfo, a non-ASCII symbol
    assert (perps["XAUUSDT"].interval_h, perps["XAUUSDT"].cap) == (4.0, 0.005)
    assert perps["币安人生USDT"].next_rate == 0.00005  # no contractType: its deliveryDate says
    # exchangeInfo lists ETHUSDT but premiumIndex does not; the dated future is dropped
    assert "ETHUSDT" not in perps and "BTCUSDT_261225" not in perps
    assert len(perps) == 3 + fake.gen
    assert perps["GEN03USDT"].interval_h == 4.0 and perps["GEN04USDT"].interval_h == 8.0


async def test_bybit_universe_reads_linear_and_inverse_with_caps_and_usd_figures(
    fake: FakeUniverse,
) -> None:
    fake.page_size = 5  # instruments-info paged by nextPageCursor
    perps = await read(fake, "bybit")
    lin = perps["BTCUSDT"]  # docs ticker: -0.005 at fundingCap 0.005
    assert (lin.kind, lin.settle, lin.mark, lin.next_rate) == ("linear", "USDT", 66666.6, -0.005)
    assert (lin.interval_h, lin.cap, lin.floor) == (8.0, 0.005, -0.005)  # ticker's cap wins
    assert lin.at_cap()
    assert (lin.volume_24h_usd, lin.open_interest_usd) == (4936790807.6521, 32824881841.75)
    assert (lin.tick, lin.min_notional, lin.taker_fee) == (Decimal("0.1"), Decimal(5), 0.00055)
    inv = perps["BTCUSD"]  # docs inverse ticker: USD figures are volume24h, openInterest
    assert (inv.kind, inv.settle, inv.quote, inv.mark) == ("inverse", "BTC", "USD", 114898.43)
    assert (inv.next_rate, inv.interval_h, inv.cap) == (0.0001, 8.0, 0.005)
    assert (inv.volume_24h_usd, inv.open_interest_usd) == (13713832.0, 240113967.0)
    assert (inv.lot, inv.min_notional) == (Decimal(1), Decimal(0))
    # futures and pre-launch rows are dropped; every generated perpetual is read
    assert "BTC-26DEC26" not in perps and "GENXUSDT" not in perps
    assert len(perps) == 2 + fake.gen
    assert perps["GEN04USDT"].interval_h == 1.0
    pages = [r for r in fake.requests if "instruments-info?category=linear" in r]
    assert len(pages) == 3 and "cursor=5" in pages[1]  # 15 rows, 5 a page


async def test_a_bad_wire_shape_names_the_endpoint_symbol_and_field(fake: FakeUniverse) -> None:
    rows = fake.premium_index()
    del rows[0]["markPrice"]
    fake.override["/fapi/v1/premiumIndex"] = rows
    with pytest.raises(ValueError, match=r"premiumIndex BTCUSDT: field 'markPrice' missing"):
        await read(fake, "binance")
    fake.override["/fapi/v1/fundingInfo"] = [{"symbol": "XAUUSDT", "fundingIntervalHours": "x"}]
    with pytest.raises(ValueError, match=r"fundingInfo XAUUSDT: field 'fundingIntervalHours'"):
        await read(fake, "binance")
    fake.override["/v5/market/tickers"] = {"retCode": 0, "retMsg": "OK", "result": {}}
    with pytest.raises(ValueError, match=r"tickers (linear|inverse): field 'result.list' missing"):
        await read(fake, "bybit")
    del fake.override["/v5/market/tickers"]
    rows = fake.tickers("linear")
    rows[1]["fundingRate"] = "n/a"
    fake.override["/v5/market/tickers"] = {"retCode": 0, "result": {"list": rows}}
    with pytest.raises(ValueError, match=r"tickers linear GEN01USDT: field 'fundingRate' is 'n/a'"):
        await read(fake, "bybit")


async def test_settled_history_of_each_venue_on_its_own_grid(fake: FakeUniverse) -> None:
    st = settings_for(fake)
    for venue, symbol, hours, rate in (
        ("binance", "GEN03USDT", 4, 0.0002),
        ("bybit", "GEN04USDT", 1, 0.0),
        ("bybit", "GEN05USDT", 8, 0.00005),
    ):
        make = registry.plugin(venue).open_universe
        assert make is not None
        src = make(st.feeds, None)
        perps = {p.symbol: p for p in await src.read()}
        rows = await src.settled(perps[symbol], NOW - 24 * 3_600_000, NOW)
        await src.close()
        assert len(rows) == 24 // hours, (venue, symbol)
        assert {r for _, r in rows} == {rate}
        assert all(t % (hours * 3_600_000) == 0 for t, _ in rows)


async def test_scanner_ranks_reads_history_once_per_settlement_and_names_a_failed_venue(
    fake: FakeUniverse,
) -> None:
    sc = Scanner(settings_for(fake), history_rows=3, clock=lambda: NOW)
    try:
        res = await sc.refresh()
        assert res.perps == {"binance": 3 + fake.gen, "bybit": 2 + fake.gen}
        assert res.errors == {}
        assert res.pairs == 2 + fake.gen  # BTCUSDT with both Bybit BTC perps, each GEN once
        assert [o.net_carry for o in res.rows] == sorted(
            (o.net_carry for o in res.rows), reverse=True
        )
        history = [r for r in fake.requests if "fundingRate?" in r or "funding/history" in r]
        assert 3 <= len(history) <= 6  # the legs of the best 3 rows
        # the generated legs have a full week: their averages equal their constant spread
        gen = [o for o in res.rows[:3] if o.asset.startswith("GEN")]
        for o in gen:
            assert o.averages == pytest.approx([o.spread_per_hour] * 3, rel=1e-9, abs=1e-15)
        before = len(fake.requests)
        await sc.refresh()  # no settlement since: no history request
        again = [r for r in fake.requests[before:] if "funding" in r and "Info" not in r]
        assert again == []
        fake.fail.add("/v5/market/tickers")
        res = await sc.refresh()
        assert res.errors == {"bybit": 'ExchangeError: bybit {"error": "overloaded"}'}
        assert res.perps == {"binance": 3 + fake.gen} and res.rows == []
    finally:
        await sc.close()


def test_scanner_refuses_an_unknown_or_closed_venue_and_a_single_one() -> None:
    st = load_config(ROOT / "config.toml")
    with pytest.raises(BadInput, match="'bitmex' is not a live venue"):
        Scanner(st, venues=["binance", "bitmex"])
    with pytest.raises(BadInput, match="at least two venues"):
        Scanner(st, venues=["binance"])


async def test_a_history_that_cannot_be_read_is_a_warning_and_the_row_has_no_averages(
    fake: FakeUniverse,
) -> None:
    fake.fail.add("/fapi/v1/fundingRate")
    sc = Scanner(settings_for(fake), history_rows=1, clock=lambda: NOW)
    try:
        res = await sc.refresh()
    finally:
        await sc.close()
    assert res.errors == {} and len(res.rows) == 2 + fake.gen
    top = res.rows[0]
    assert top.key == "BTC bybit:BTCUSD/binance:BTCUSDT"
    assert res.warnings == [
        f"binance BTCUSDT history: ExchangeNotAvailable: binanceusdm GET {fake.url}"
        "/fapi/v1/fundingRate?symbol=BTCUSDT&startTime=1795366400000&endTime=1796000000000"
        '&limit=1000 503 Service Unavailable {"error": "overloaded"}'
    ]
    assert top.averages == (None, None, None)
