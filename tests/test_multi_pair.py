"""Several pairs in one engine (issue 14 item 5, the parts that decide money): an instrument
belongs to one pair only, and each pair's hedger works on its own legs' delta, so a BTC pair
never trades BTC against an ETH pair's imbalance."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.config import ConfigError, parse_config
from core.domain.risk import TradingState
from core.engine.engine import Engine
from core.engine.pair import PairRuntime
from core.engine.reconcile import book_external
from tests.helpers import bar, settle

ROOT = Path(__file__).resolve().parent.parent
D = Decimal

ETH = """
[instruments.binance_ethusdt]
venue = "binance"
symbol = "ETHUSDT"
kind = "linear"
contract_size = "1"
tick = "0.01"
lot = "0.001"
min_qty = "0.001"
min_notional = "5"

[instruments.bybit_ethusdt]
venue = "bybit"
symbol = "ETHUSDT"
kind = "linear"
contract_size = "1"
tick = "0.01"
lot = "0.01"
min_qty = "0.01"
min_notional = "5"

[[pairs]]
name = "ETH"
leg_a = "binance_ethusdt"
leg_b = "bybit_ethusdt"
hedge_band = "0.2"
"""


def two_pairs(extra: str = ETH) -> str:
    return (ROOT / "config.toml").read_text() + extra


def test_an_instrument_may_belong_to_one_pair_only() -> None:
    shared = ETH.replace('leg_a = "binance_ethusdt"', 'leg_a = "binance_btcusdt"')
    with pytest.raises(
        ConfigError,
        match=r"c\.toml: pairs\[1\]\.leg_a: instrument 'binance_btcusdt' already belongs to "
        r"pair 'BTC': an instrument may belong to one pair only",
    ):
        parse_config(two_pairs(shared), "c.toml")
    with pytest.raises(ConfigError, match=r"pairs\[1\]\.name: 'BTC' names two pairs"):
        parse_config(two_pairs(ETH.replace('name = "ETH"', 'name = "BTC"')), "c.toml")


def test_each_pair_hedges_its_own_asset() -> None:
    settings = parse_config(two_pairs(), "two.toml")
    eng = Engine(settings, mode="paper")
    for venue in ("binance", "bybit"):
        eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:01", 50_000.0))
        eng.on_event(bar(venue, "ETHUSDT", "2024-01-01T00:01", 2_500.0))
    eng.set_state(TradingState.ARMED, "test")
    btc, eth = eng.pairs
    for pr in (btc, eth):
        eng.drive(pr, pr.enter(1))
        assert pr.status == "open"
    assert btc.net_delta() == 0 and eth.net_delta() == 0
    # an imbalance of 0.5 ETH on the ETH pair (a partial fill, an auto-deleverage)
    book_external(eng, ("bybit", "ETHUSDT"), D("0.5"), "external")
    assert eth.net_delta() == D("0.5") and btc.net_delta() == 0
    before = len(eng.ledger.trades)
    for venue in ("binance", "bybit"):
        eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:02", 50_000.0))
        eng.on_event(bar(venue, "ETHUSDT", "2024-01-01T00:02", 2_500.0))
    hedges = [t.fill for t in eng.ledger.trades[before:] if t.fill.purpose == "hedge"]
    assert [(f.pair, f.symbol) for f in hedges] == [("ETH", "ETHUSDT")]  # never the BTC pair
    assert eth.band == D("0.2") and btc.band == settings.hedge.band_btc == D("0.1")
    assert abs(eth.net_delta()) <= eth.band
    assert btc.net_delta() == 0


def test_a_pair_of_another_asset_needs_its_band_in_that_asset() -> None:
    no_band = ETH.replace('hedge_band = "0.2"\n', "")
    with pytest.raises(
        ConfigError,
        match=r"c\.toml: pairs\[1\]\.hedge_band: pair 'ETH' trades ETH, not BTC: set its hedge "
        r"band in that asset's units \(hedge\.band_btc is in BTC\)",
    ):
        parse_config(two_pairs(no_band), "c.toml")
    with pytest.raises(ConfigError, match=r"pairs\[1\]\.hedge_target: must be >= 0 and below"):
        parse_config(two_pairs(ETH + 'hedge_target = "0.2"\n'), "c.toml")
    with pytest.raises(ConfigError, match=r"pairs\[1\]\.hedge_wide_band: must be >= its"):
        parse_config(two_pairs(ETH + 'hedge_wide_band = "0.1"\n'), "c.toml")
    for key, value, why in (
        ("max_book_notional_usd", "-1", "must be >= 0"),
        ("max_venue_margin_pct", "120", "must be 0 \\(off\\) .. 100"),
        ("venue_leverage", "0.5", "must be 1 .. 200"),
    ):
        text = with_risk(two_pairs(), key, value)
        with pytest.raises(ConfigError, match=rf"c\.toml: risk\.{key}: {why}"):
            parse_config(text, "c.toml")


def test_a_pair_hedges_at_its_own_band_in_its_own_units() -> None:
    """0.15 ETH out is inside the ETH pair's band of 0.2 ETH (the BTC band, 0.1, would act)."""
    eng, btc, eth = opened(two_pairs())
    book_external(eng, ("bybit", "ETHUSDT"), D("0.15"), "external")
    before = len(eng.ledger.trades)
    prices(eng, "2024-01-01T00:02")
    assert eng.ledger.trades[before:] == [] and eth.net_delta() == D("0.15")
    book_external(eng, ("bybit", "ETHUSDT"), D("0.06"), "external")  # 0.21 ETH: outside
    prices(eng, "2024-01-01T00:03")
    hedges = [t.fill for t in eng.ledger.trades[before:] if t.fill.purpose == "hedge"]
    assert [(f.pair, f.symbol, f.side, f.qty) for f in hedges] == [
        ("ETH", "ETHUSDT", "sell", D("0.21"))
    ]
    assert eth.net_delta() == 0 and btc.net_delta() == 0


def with_risk(text: str, key: str, value: str) -> str:
    """``text`` with ``[risk] key = value`` (the line config.toml has, replaced)."""
    out, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1
    return out


def prices(eng: Engine, at: str, btc: float = 50_000.0, eth: float = 2_500.0) -> None:
    for venue in ("binance", "bybit"):
        eng.on_event(bar(venue, "BTCUSDT", at, btc))
        eng.on_event(bar(venue, "ETHUSDT", at, eth))


def opened(text: str, *, eth_too: bool = True) -> tuple[Engine, PairRuntime, PairRuntime]:
    eng = Engine(parse_config(text, "two.toml"), mode="paper")
    prices(eng, "2024-01-01T00:01")
    eng.set_state(TradingState.ARMED, "test")
    btc, eth = eng.pairs
    for pr in (btc, eth) if eth_too else (btc,):
        eng.drive(pr, pr.enter(1))
    return eng, btc, eth


def alerts(eng: Engine) -> list[str]:
    return [e.text for e in eng.log if e.kind == "alert"]


def test_an_entry_that_would_breach_the_book_notional_is_refused_with_the_figures() -> None:
    """BTC enters 0.2 BTC a leg at 50,000 (20,000 USD gross); the ETH entry (4 ETH a leg at
    2,500: 20,000 more) would take the book to 40,000 > 35,000: refused before either leg is
    sent, saying the limit and the figures. Closing (reduce-only) is never blocked."""
    text = with_risk(two_pairs(), "max_book_notional_usd", "35000")
    eng, btc, eth = opened(text)
    assert btc.status == "open" and eth.status == "flat"
    assert eng.gross_notional_usd() == D("20000.000")
    assert alerts(eng) == [
        "pair ETH not started: book limit risk.max_book_notional_usd: gross notional "
        "20,000.00 + 20,000.00 = 40,000.00 USD > 35,000.00 USD"
    ]
    assert [t.fill.symbol for t in eng.ledger.trades] == ["BTCUSDT", "BTCUSDT"]
    eng.drive(eth, eth.enter(1))  # the same refusal again: said once
    assert len(alerts(eng)) == 1
    eng.close_everything("flatten")
    assert not eng.ledger.has_exposure() and eng.rejections == []


def test_an_entry_that_would_breach_a_venue_margin_share_is_refused_with_the_figures() -> None:
    """At 5x, the BTC pair's legs use 2,000 USD of initial margin on each venue (2 % of about
    100,000); the ETH pair's would take each to 4,000 USD, 4 % > 3 %: refused."""
    text = with_risk(two_pairs(), "max_venue_margin_pct", "3")
    assert parse_config(text).risk.venue_leverage == 5.0  # the default
    eng, btc, eth = opened(text)
    assert btc.status == "open" and eth.status == "flat"
    # binance: 100,000 - fee 0.2 x 49,990 x 0.0005 (4.999) - the short's uPnL at 50,000 (2.00)
    assert alerts(eng) == [
        "pair ETH not started: venue limit risk.max_venue_margin_pct on binance: initial "
        "margin 2,000.00 + 2,000.00 = 4,000.00 USD (notional / 5x) is 4.00 % of its equity "
        "99,993.00 USD > 3 %"
    ]


def test_a_ladder_add_that_would_breach_the_book_notional_is_skipped_and_hedges_still_go() -> None:
    """The BTC pair (short binance, long bybit, 0.2 BTC a leg) holds 20,600 USD gross at
    51,500 (+3 %: binance's ladder level 1 triggers); the add (10,000 USD: 0.194 BTC) and its
    hedge would take the book to 40,582.00 > 25,000: skipped, saying so. A hedge that grows a
    leg is never refused by the limit."""
    text = with_risk(two_pairs(), "max_book_notional_usd", "25000")
    eng, btc, _ = opened(text, eth_too=False)
    # binance pays more than bybit: the signal holds the pair's direction (short binance)
    eng.on_instant([settle("binance", "BTCUSDT", "2024-01-01T08:00", "0.001"),
                    settle("bybit", "BTCUSDT", "2024-01-01T08:00", "0.0001")])  # fmt: skip
    assert btc.status == "open" and btc.signal.last.direction == btc.direction == 1
    prices(eng, "2024-01-01T09:01", btc=51_500.0)
    assert [t.fill.purpose for t in eng.ledger.trades] == ["entry", "entry"]
    assert alerts(eng) == [
        "pair BTC ladder level 1 on binance skipped: book limit risk.max_book_notional_usd: "
        "gross notional 20,600.00 + 19,982.00 = 40,582.00 USD > 25,000.00 USD"
    ]
    prices(eng, "2024-01-01T09:02", btc=65_000.0)  # 26,000 USD gross: over the limit
    book_external(eng, ("binance", "BTCUSDT"), D("0.15"), "external")  # the short shrinks
    prices(eng, "2024-01-01T09:03", btc=65_000.0)
    hedge = eng.ledger.trades[-1].fill
    assert (hedge.purpose, hedge.venue, hedge.side, hedge.qty, hedge.reduce_only) == (
        "hedge",
        "binance",
        "sell",
        D("0.150"),
        False,
    )  # grows the short back, over the book limit
    assert eng.gross_notional_usd() == D("26000.000") and btc.net_delta() == 0
