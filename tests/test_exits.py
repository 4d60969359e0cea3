"""Exits that respect costs (issue 12 item 3): the exit condition is net of what leaving costs
now (both legs' exit fees, the basis given up), its threshold lies below the entry's, a flip
must last ``exit_observations`` observations and the position be ``min_hold_hours`` old; the
report gives each round trip's holding time, funding, fees, basis PnL and net."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.analysis.report import build_report, format_text
from core.domain.config import ConfigError, Settings, parse_config
from core.domain.market import MarketState
from core.domain.signal import PairSignal
from core.engine.engine import Engine
from tests.conftest import HISTORY_CONFIG
from tests.helpers import bar, settle, with_overrides

D = Decimal
BN, BM = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
EXIT_PER_HOUR = 0.10 / (24 * 365)  # exit_apr_pct 10


def leave_edge(settings: Settings, rate_a: str, rate_b: str, mark_a: float, mark_b: float) -> float:
    """The leave edge of a pair held short Binance / long BitMEX at these rates and marks."""
    m = MarketState()
    for ev in (
        settle(*BN, "2024-01-01T00:00", rate_a),
        settle(*BM, "2024-01-01T00:00", rate_b),
        bar(*BN, "2024-01-01T00:01", mark_a),
        bar(*BM, "2024-01-01T00:01", mark_b),
    ):
        m.apply(ev)
    a_spec = settings.instruments["binance_btcusdt"]
    b_spec = settings.instruments["bitmex_xbtusd"]
    sig = PairSignal(settings.strategy, a_spec, b_spec)
    edge = sig.leave_edge(m.get(*BN), m.get(*BM), 1)
    assert edge is not None
    return edge


def test_a_carry_just_below_the_threshold_does_not_pay_for_leaving(settings: Settings) -> None:
    # equal rates: the carry is 0, 10 % APR short of the threshold over 72 h = 0.000822,
    # less than the exit fees 0.0005 + 0.00075 = 0.00125: stay
    edge = leave_edge(settings, "0.0001", "0.0001", 50_000.0, 50_000.0)
    assert edge == pytest.approx(EXIT_PER_HOUR * 72 - 0.00125, abs=1e-15)
    assert edge < 0


def test_a_flipped_carry_that_costs_more_than_leaving_exits(settings: Settings) -> None:
    # short Binance paying 0.0003 / 8 h and long BitMEX paying 0.0001 / 8 h: held carry
    # -0.00005 per hour; shortfall (0.0000114 + 0.00005) x 72 = 0.00442 > 0.00125
    edge = leave_edge(settings, "-0.0003", "0.0001", 50_000.0, 50_000.0)
    assert edge == pytest.approx((EXIT_PER_HOUR + 0.00005) * 72 - 0.00125, abs=1e-15)
    assert edge > 0


def test_a_basis_that_would_converge_in_the_positions_favour_is_a_cost_of_leaving(
    settings: Settings,
) -> None:
    # the same flip with the long leg 1 % under the short one: leaving gives up 500 / 49,750
    edge = leave_edge(settings, "-0.0003", "0.0001", 50_000.0, 49_500.0)
    assert edge == pytest.approx((EXIT_PER_HOUR + 0.00005) * 72 - 0.00125 - 500 / 49_750, abs=1e-15)
    assert edge < 0


def held(settings: Settings, **strategy: object) -> Engine:
    """An engine that enters at 01:00:59.999 (short Binance, long 10,000 XBTUSD at 50,000)."""
    knobs: dict[str, object] = {"observations": 1, "exit_observations": 2, "min_hold_hours": 3.0}
    knobs.update(strategy)
    eng = Engine(with_overrides(settings, strategy=knobs), mode="replay")
    eng.on_instant(
        [settle(*BN, "2024-01-01T00:00", "0.0003"), settle(*BM, "2024-01-01T00:00", "-0.003")]
    )
    for hh in ("00", "01"):
        eng.on_instant(
            [bar(*BN, f"2024-01-01T{hh}:01", 50_000.0), bar(*BM, f"2024-01-01T{hh}:01", 50_000.0)]
        )
    assert eng.pairs[0].status == "open"
    return eng


def hour(eng: Engine, hh: str) -> None:
    eng.on_instant(
        [bar(*BN, f"2024-01-01T{hh}:01", 50_000.0), bar(*BM, f"2024-01-01T{hh}:01", 50_000.0)]
    )


def flip(eng: Engine, hh: str, a: str = "-0.003", b: str = "0.003") -> None:
    eng.on_instant([settle(*BN, f"2024-01-01T{hh}:00", a), settle(*BM, f"2024-01-01T{hh}:00", b)])


def test_a_lasting_flip_exits_once_the_minimum_holding_time_is_over(settings: Settings) -> None:
    eng = held(settings)
    flip(eng, "02")  # observation 1 of the flip (02:00:00.000)
    hour(eng, "02")  # 2: the exit condition held twice, but the position is 1 h old
    hour(eng, "03")  # 2 h old
    assert eng.pairs[0].status == "open"
    hour(eng, "04")  # 3 h old (entered 01:00:59.999): out
    exits = [t.fill for t in eng.ledger.trades if t.fill.purpose == "exit"]
    assert {f.ts_ms % 86_400_000 for f in exits} == {4 * 3_600_000 + 59_999}
    assert eng.pairs[0].status == "flat"


def test_a_flip_that_does_not_last_does_not_exit(settings: Settings) -> None:
    eng = held(settings, min_hold_hours=0.0)
    flip(eng, "02")  # one observation of the flip
    eng.on_instant(
        [settle(*BN, "2024-01-01T02:30", "0.0003"), settle(*BM, "2024-01-01T02:30", "-0.003")]
    )
    hour(eng, "02")  # the carry is back before the second observation
    hour(eng, "03")
    assert eng.pairs[0].status == "open"
    assert [t.fill.purpose for t in eng.ledger.trades] == ["entry", "entry"]


def test_the_report_gives_each_round_trip(settings: Settings) -> None:
    eng = held(settings)
    flip(eng, "02")
    for hh in ("02", "03", "04"):
        hour(eng, hh)
    report = build_report(eng, 1.0)
    (rt,) = report["round_trips"]
    assert (rt["open_ts_ms"] % 86_400_000, rt["close_ts_ms"] % 86_400_000) == (
        3_659_999,
        14_459_999,
    )
    # long 10,000 XBTUSD and short 0.2 BTC, both paying 0.003 at 02:00: 30 + 30 USD; fees
    # 0.075 % of 10,000 USD and 0.05 % of 10,000 USDT, in and out: 15 + 10 USD (the XBT fees
    # at the fill price, 2 bp off 50,000); basis: the 2 bp slippage, 4 times on 10,000 USD
    assert rt["holding_hours"] == 3.0
    assert (rt["fills"], rt["funding_usd"]) == (4, -60.0)
    assert round(rt["fees_usd"], 10) == 25.0000006
    assert round(rt["basis_usd"], 10) == -8.00000016
    assert round(rt["net_usd"], 10) == -93.00000076
    text = format_text(report)
    assert (
        "  BTC 2024-01-01T01:00:59Z -> 2024-01-01T04:00:59Z held    3.0 h  funding -60.00"
        "  fees -25.00  basis -8.00  net -93.00 USD (4 fills)"
    ) in text


def test_the_exit_threshold_must_lie_below_the_entrys() -> None:
    text = HISTORY_CONFIG.read_text().replace("exit_apr_pct = 10.0", "exit_apr_pct = 80.0")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "x.toml")
    assert str(err.value) == (
        "x.toml: strategy.exit_apr_pct: must be below the entry threshold "
        "(0.6 % over 72 h = 73.00 % APR)"
    )
