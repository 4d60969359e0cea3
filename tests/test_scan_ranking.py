"""The funding scanner's ranking (core/domain/scan.py) on a small fixed universe, with exact
values worked by hand:

- ETH: Binance 0.0004 per 4 h (0.0001 / h) vs Bybit 0.0001 per 8 h (0.0000125 / h): short
  Binance, long Bybit; intervals differ; settled history for the 1/3/7-day averages.
- SOL: Bybit at its floor -0.00375 per 8 h vs Binance 0.0001 per 8 h: capped, the best row.
- BTC, inverse vs linear (DESIGN's worked numbers): Binance BTCUSDT 0.0001 per 4 h beats Bybit
  BTCUSD (inverse) 0.00015 per 8 h, though the raw number is smaller.

Fees 2 x (0.0005 + 0.00055) = 0.0021 on every pair; horizon 72 h; 10,000 USD a leg.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.domain.scan import HOUR_MS, ScanSettings, rank, rank_pair
from core.domain.universe import Perp, SettledHistory, match, split_multiplier

NOW = 1_709_280_000_000  # 2024-03-01T08:00Z, a settlement instant of both grids
S = ScanSettings(horizon_h=72.0, notional_usd=10_000.0)


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-18)


def perp(venue: str, symbol: str, base: str, rate: float, hours: float, mark: float,
         **kw: object) -> Perp:  # fmt: skip
    fee = 0.0005 if venue == "binance" else 0.00055
    kind = kw.pop("kind", "linear")
    return Perp(
        venue=venue, symbol=symbol, base=base, quote="USDT" if kind == "linear" else "USD",
        settle="USDT" if kind == "linear" else base, kind=kind,  # type: ignore[arg-type]
        mark=mark, index=None, next_rate=rate, next_funding_ms=NOW + int(hours * HOUR_MS),
        interval_h=hours, taker_fee=fee, tick=Decimal("0.01"), lot=Decimal("0.001"),
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


ETH_BN = perp("binance", "ETHUSDT", "ETH", 0.0004, 4, 3000.0, volume_24h_usd=5e8)
ETH_BY = perp("bybit", "ETHUSDT", "ETH", 0.0001, 8, 3001.5, volume_24h_usd=2e8,
              open_interest_usd=1e8)  # fmt: skip
SOL_BN = perp("binance", "SOLUSDT", "SOL", 0.0001, 8, 150.0, volume_24h_usd=1e8)
SOL_BY = perp("bybit", "SOLUSDT", "SOL", -0.00375, 8, 150.0, cap=0.00375, floor=-0.00375,
              volume_24h_usd=3e7, open_interest_usd=4e6)  # fmt: skip
BTC_BN = perp("binance", "BTCUSDT", "BTC", 0.0001, 4, 50_000.0, cap=0.003, floor=-0.003)
BTC_BY = perp("bybit", "BTCUSD", "BTC", 0.00015, 8, 50_100.0, kind="inverse")
UNIVERSE = [BTC_BY, SOL_BY, ETH_BY, BTC_BN, SOL_BN, ETH_BN]

# Binance ETHUSDT: every 4 h for 8 days at 0.0004, the last one (at NOW) at 0.0002.
ETH_BN_HIST = [(NOW - k * 4 * HOUR_MS, 0.0004 if k else 0.0002) for k in range(48)]
# Bybit ETHUSDT: every 8 h for the last 40 h only (listed recently), 0.0001.
ETH_BY_HIST = [(NOW - k * 8 * HOUR_MS, 0.0001) for k in range(6)]
HISTORIES = {
    ETH_BN.key: SettledHistory(ETH_BN_HIST),
    ETH_BY.key: SettledHistory(reversed(ETH_BY_HIST)),
}


def test_every_pair_of_one_asset_on_two_venues_is_matched_once() -> None:
    pairs = [(a.key, b.key) for a, b in match(UNIVERSE)]
    assert pairs == [
        (("binance", "BTCUSDT"), ("bybit", "BTCUSD")),
        (("binance", "ETHUSDT"), ("bybit", "ETHUSDT")),
        (("binance", "SOLUSDT"), ("bybit", "SOLUSDT")),
    ]


def test_a_multiplied_base_matches_the_bare_asset_and_prices_compare_per_unit() -> None:
    assert split_multiplier("1000SHIB") == ("SHIB", 1000)
    assert split_multiplier("SHIB1000") == ("SHIB", 1000)
    assert split_multiplier("1MBABYDOGE") == ("BABYDOGE", 1_000_000)
    assert split_multiplier("1INCH") == ("1INCH", 1)
    a = perp("binance", "1000SHIBUSDT", "1000SHIB", 0.0001, 8, 0.025)
    b = perp("bybit", "SHIB1000USDT", "SHIB1000", 0.0001, 8, 0.025)
    c = perp("bybit", "SHIBUSDT", "SHIB", 0.0001, 8, 0.000025)
    assert [(x.symbol, y.symbol) for x, y in match([a, b, c])] == [
        ("1000SHIBUSDT", "SHIB1000USDT"),
        ("1000SHIBUSDT", "SHIBUSDT"),
    ]
    assert rank_pair(a, c, S, NOW).basis == 0.0


def test_rates_are_compared_per_hour_not_raw_and_inverse_meets_linear() -> None:
    o = rank_pair(BTC_BY, BTC_BN, S, NOW)
    assert (o.short.perp.key, o.long.perp.key) == (BTC_BN.key, BTC_BY.key)
    assert o.short.rate_per_hour == approx(0.000025)
    assert o.long.rate_per_hour == approx(0.00001875)
    assert o.spread_per_hour == approx(0.00000625)
    assert o.spread_apr == approx(0.05475)
    assert o.basis == approx(100 / 50_050)  # the long leg is dearer: paid to cross
    assert o.fees == approx(0.0021)
    assert o.net_carry == approx(0.00045 - 0.0021 - 100 / 50_050)
    assert o.intervals_differ and not o.capped
    # funding at the next settlements on 10,000 USD: short receives, long pays
    assert o.short.funding_next == approx(1.0)  # USDT
    assert o.short.funding_next_usd == approx(1.0)
    assert o.long.funding_next_usd == approx(-1.5)
    assert o.long.funding_next == approx(-1.5 / 50_100)  # BTC: notional / mark x rate
    assert o.averages == (None, None, None)  # no history read
    assert o.settled_spread_per_hour is None


def test_eth_pair_figures_with_settled_history_kept_apart_from_the_estimates() -> None:
    o = rank_pair(ETH_BN, ETH_BY, S, NOW, HISTORIES)
    assert o.short.perp is ETH_BN and o.long.perp is ETH_BY
    assert o.spread_per_hour == approx(0.0000875)
    assert o.spread_apr == approx(0.0000875 * 8760)
    assert o.basis == approx(1.5 / 3000.75)
    assert o.net_carry == approx(0.0063 - 0.0021 - 1.5 / 3000.75)
    assert o.net_apr == approx((0.0042 - 1.5 / 3000.75) / 72 * 8760)
    assert o.net_carry_usd == approx((0.0042 - 1.5 / 3000.75) * 10_000)
    # the last settled rates, not the estimates
    assert (o.short.settled_rate, o.short.settled_ms) == (0.0002, NOW)
    assert (o.long.settled_rate, o.long.settled_ms) == (0.0001, NOW)
    assert o.settled_spread_per_hour == approx(0.0002 / 4 - 0.0001 / 8)
    # 1 day: Binance 5 x 0.0004 + 0.0002 over 24 h, Bybit 3 x 0.0001 over 24 h;
    # 3 and 7 days: Bybit's history reaches back only 40 h
    assert o.averages[0] == approx(0.0022 / 24 - 0.0003 / 24)
    assert o.averages[1:] == (None, None)
    assert o.intervals_differ and not o.capped


def test_history_windows_sum_the_settlements_inside_them() -> None:
    h = SettledHistory(ETH_BN_HIST)
    assert len(h) == 48 and h.last == (NOW, 0.0002)
    assert h.window_sum(NOW - 24 * HOUR_MS, NOW) == approx(0.0022)
    assert h.window_sum(NOW - 72 * HOUR_MS, NOW) == approx(0.007)
    assert h.window_sum(NOW - 168 * HOUR_MS, NOW) == approx(0.0166)
    assert h.covers(NOW - 168 * HOUR_MS, 4 * HOUR_MS)
    assert not h.covers(NOW - 200 * HOUR_MS, 4 * HOUR_MS)


def test_ranked_by_net_carry_with_the_capped_symbol_first() -> None:
    rows = rank(match(UNIVERSE), S, NOW, HISTORIES)
    assert [r.asset for r in rows] == ["SOL", "ETH", "BTC"]
    sol = rows[0]
    assert sol.short.perp is SOL_BN and sol.long.perp is SOL_BY
    assert sol.capped and sol.long.at_cap and not sol.short.at_cap
    assert not sol.intervals_differ
    assert sol.spread_per_hour == approx(0.00385 / 8)
    assert sol.basis == 0.0
    assert sol.net_carry == approx(0.03465 - 0.0021)
    assert sol.long.funding_next_usd == approx(37.5)  # a negative rate pays the long leg


def test_filters_on_net_apr_volume_and_open_interest() -> None:
    # BTC nets below zero: a 0 % floor drops it
    rows = rank(match(UNIVERSE), ScanSettings(min_net_apr_pct=0.0), NOW)
    assert [r.asset for r in rows] == ["SOL", "ETH"]
    # ETH's net APR is (0.0042 - 0.0004999) / 72 x 8760 = 45.0 %: a 46 % floor drops it
    assert [r.asset for r in rank(match(UNIVERSE), ScanSettings(min_net_apr_pct=46.0), NOW)] == [
        "SOL"
    ]
    # Bybit SOL trades 3e7 a day: a 5e7 volume floor drops SOL; BTC's legs report no volume
    rows = rank(match(UNIVERSE), ScanSettings(min_volume_usd=5e7), NOW)
    assert [r.asset for r in rows] == ["ETH", "BTC"]
    # open interest 4e6 on Bybit SOL; Binance reports none (not excluded for that)
    rows = rank(match(UNIVERSE), ScanSettings(min_open_interest_usd=5e6), NOW)
    assert [r.asset for r in rows] == ["ETH", "BTC"]


def test_the_pair_key_stays_when_the_direction_flips() -> None:
    o = rank_pair(ETH_BN, ETH_BY, S, NOW)
    flipped = rank_pair(ETH_BN, perp("bybit", "ETHUSDT", "ETH", 0.001, 8, 3001.5), S, NOW)
    assert o.key == "ETH binance:ETHUSDT/bybit:ETHUSDT"
    assert flipped.key == "ETH bybit:ETHUSDT/binance:ETHUSDT"
    assert o.pair_key == flipped.pair_key == "ETH binance:ETHUSDT|bybit:ETHUSDT"
