"""What the replay tells the operator (issue 12 item 5): fees per venue and per purpose, days to
break even at the current spread, in the report (JSON and text) and on the console's snapshot."""

from __future__ import annotations

import pytest

from core.analysis.report import build_report, format_text
from core.domain.config import Settings
from core.domain.market import MarketState
from core.domain.signal import PairSignal
from core.engine.views import build_snapshot
from tests.helpers import bar, settle
from tests.test_exits import flip, held, hour

BN, BM = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")


def days(
    settings: Settings, mark_b: float, held_direction: int, rate_a: str = "0.0003"
) -> float | None:
    """Break-even days of Binance (a) at 50,000 and ``rate_a`` / 8 h against BitMEX (b) at
    ``mark_b`` and -0.003 / 8 h: a spread of (0.0003 + 0.003) / 8 = 0.0004125 per hour,
    0.0099 a day, short a / long b."""
    m = MarketState()
    for ev in (
        settle(*BN, "2024-01-01T00:00", rate_a),
        settle(*BM, "2024-01-01T00:00", "-0.003"),
        bar(*BN, "2024-01-01T00:01", 50_000.0),
        bar(*BM, "2024-01-01T00:01", mark_b),
    ):
        m.apply(ev)
    sig = PairSignal(
        settings.strategy,
        settings.instruments["binance_btcusdt"],
        settings.instruments["bitmex_xbtusd"],
    )
    return sig.break_even_days(m.get(*BN), m.get(*BM), held_direction)


def test_days_to_break_even_are_the_costs_still_to_pay_over_the_carry_per_day(
    settings: Settings,
) -> None:
    # flat: round-trip taker fees 2 x (0.0005 + 0.00075) = 0.0025 over 0.0099 a day
    assert days(settings, 50_000.0, 0) == pytest.approx(0.0025 / 0.0099, rel=1e-12)
    # held: only the exit's fees are still to pay
    assert days(settings, 50_000.0, 1) == pytest.approx(0.00125 / 0.0099, rel=1e-12)
    # the long leg 500 under the short one: entering now gains 500 / 49,750 of basis, more
    # than the fees (0 days); holding, leaving gives it up (0.00125 + 0.01005 over 0.0099)
    assert days(settings, 49_500.0, 0) == 0.0
    assert days(settings, 49_500.0, 1) == pytest.approx((0.00125 + 500 / 49_750) / 0.0099)
    # held against a spread that now runs the other way: never
    assert days(settings, 50_000.0, -1) is None


def test_the_report_gives_fees_per_venue_and_purpose_and_the_break_even(
    settings: Settings,
) -> None:
    eng = held(settings)
    flip(eng, "02")
    for hh in ("02", "03", "04"):
        hour(eng, hh)
    report = build_report(eng, 1.0)
    fees = {v: p["fees_by_purpose_usd"] for v, p in report["per_venue"].items()}
    # 0.2 BTC at 49,990.00 and 50,010.00 x 0.05 %; 10,000 XBTUSD x 0.075 % in XBT at the
    # fill price, valued at the coin's mark (50,000) of the moment
    assert {v: {k: round(f, 8) for k, f in by.items()} for v, by in fees.items()} == {
        "bitmex": {"entry": -7.49850030, "exit": -7.50150030},
        "binance": {"entry": -4.999, "exit": -5.001},
    }
    # flat after the exit, the flipped rates now pay the other way round: (0.003 + 0.003) / 8
    # an hour, 0.018 a day, for the round trip's 0.0025 of fees
    (pair,) = report["pairs"]
    assert (pair["pair"], pair["status"]) == ("BTC", "flat")
    assert pair["break_even_days"] == pytest.approx(0.0025 / 0.018, rel=1e-12)
    text = format_text(report)
    assert "  binance  funding +0.00 / -30.00  fees -10.00 USD (entry -5.00, exit -5.00)" in text
    assert "break even        BTC (flat): 0.1 days (fees and basis still to pay" in text
    snap = build_snapshot(eng, None)
    assert snap.pairs[0].break_even_days == pair["break_even_days"]


def test_a_float_residue_never_reads_as_minus_zero() -> None:
    from core.analysis.report import cents

    assert [cents(x) for x in (-0.001, 2.34e-11, -0.0049, 0.005, -1234.567)] == [
        "0.00", "0.00", "0.00", "0.01", "-1,234.57",
    ]  # fmt: skip
