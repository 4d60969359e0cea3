"""Market state keeps settled rates and rates seen ahead apart, per settlement."""

from __future__ import annotations

from decimal import Decimal

from core.domain.events import FundingRate, FundingSettled, Quote
from core.domain.market import MarketState
from tests.helpers import HOUR, ts

T1, T2 = ts("2021-07-23T04:00"), ts("2021-07-23T12:00")


def rate(at: str, settles: int, value: str, fixed: bool) -> FundingRate:
    return FundingRate(
        ts_ms=ts(at), venue="bitmex", symbol="XBTUSD", rate=Decimal(value),
        settlement_ts_ms=settles, interval_ms=8 * HOUR, fixed=fixed,
    )  # fmt: skip


def test_bitmex_fixed_next_rate_and_estimate_after_it_are_both_kept() -> None:
    m = MarketState()
    m.apply(rate("2021-07-22T21:00", T2, "0.000253", fixed=False))  # indicative for T2
    st = m.apply(rate("2021-07-22T21:00", T1, "0.000551", fixed=True))  # fixed for T1
    assert st.next_rate() == (Decimal("0.000551"), "fixed", 8 * HOUR)
    assert st.next_settlement_ts_ms() == T1
    m.apply(rate("2021-07-22T21:01", T1, "0.000300", fixed=False))  # an estimate never wins
    assert st.next_rate()[0] == Decimal("0.000551")
    m.apply(
        FundingSettled(ts_ms=T1, venue="bitmex", symbol="XBTUSD", rate=Decimal("0.000551"),
                       interval_ms=8 * HOUR)
    )  # fmt: skip
    assert st.settled_rate == Decimal("0.000551")
    assert st.next_rate() == (Decimal("0.000253"), "estimate", 8 * HOUR)
    assert st.next_settlement_ts_ms() == T2
    assert st.rate_per_hour() == 0.000253 / 8


def test_without_a_forecast_the_last_settled_rate_stands_in() -> None:
    m = MarketState()
    st = m.apply(
        FundingSettled(ts_ms=T1, venue="binance", symbol="BTCUSDT", rate=Decimal("0.0001"),
                       interval_ms=4 * HOUR)
    )  # fmt: skip
    assert st.next_rate() == (Decimal("0.0001"), "last", 4 * HOUR)
    assert st.next_settlement_ts_ms() == T1 + 4 * HOUR


def test_a_book_mid_stands_in_for_the_mark_only_until_the_venue_sends_one() -> None:
    m = MarketState()
    m.apply(Quote(ts_ms=1, venue="v", symbol="S", bid=99.0, ask=101.0))
    assert m.get("v", "S").mark == 100.0  # no mark yet: the mid
    m.apply(Quote(ts_ms=2, venue="v", symbol="S", mark=100.5))
    m.apply(Quote(ts_ms=3, venue="v", symbol="S", bid=103.0, ask=105.0))
    st = m.get("v", "S")
    assert (st.mark, st.bid, st.ask) == (100.5, 103.0, 105.0)  # the book moves, the mark stays
    m.apply(Quote(ts_ms=4, venue="v", symbol="S", mark=104.2))
    assert st.mark == 104.2
