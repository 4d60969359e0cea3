"""Equity in USD for any venues: capital per (venue, currency); coin balances valued at the
mark of the inverse instrument a pair trades, and only needed when a coin amount is held."""

from __future__ import annotations

from decimal import Decimal

from core.domain.config import load_config
from core.engine.engine import Engine
from tests.conftest import HISTORY_CONFIG, ROOT
from tests.helpers import bar, settle


def test_a_linear_pair_is_valued_without_any_coin_price() -> None:
    eng = Engine(load_config(ROOT / "config.toml"))  # Binance BTCUSDT / Bybit BTCUSDT
    assert eng.coin_key == ("bybit", "BTCUSD")  # configured, not traded, and no BTC held
    eng.on_event(bar("binance", "BTCUSDT", "2024-03-01T00:01", 61_000.0))
    eng.on_event(bar("bybit", "BTCUSDT", "2024-03-01T00:01", 61_010.0))
    assert eng.coin_usd() == 0.0
    assert eng.equity_usd == 200_000.0  # 100,000 USDT at each venue


def test_btc_margin_on_bybit_is_valued_at_the_traded_inverse_mark() -> None:
    eng = Engine(load_config(ROOT / "configs" / "binance_bybit_inverse.toml"))
    assert eng.coin_key == ("bybit", "BTCUSD")
    eng.on_event(bar("binance", "BTCUSDT", "2024-03-01T00:01", 61_000.0))
    assert eng.equity_curve == []  # 0.5 BTC held, no BTC price yet: no equity reading
    eng.on_event(bar("bybit", "BTCUSD", "2024-03-01T00:01", 60_000.0))
    assert eng.equity_usd == 100_000 + 100_000 + 0.5 * 60_000
    assert eng.ledger.balances[("bybit", "BTC")] == Decimal("0.5")


def test_the_history_config_values_xbt_at_the_bitmex_mark() -> None:
    eng = Engine(load_config(HISTORY_CONFIG))
    assert eng.coin_key == ("bitmex", "XBTUSD")
    eng.on_event(bar("binance", "BTCUSDT", "2020-03-01T00:01", 8_500.0))
    eng.on_event(bar("bitmex", "XBTUSD", "2020-03-01T00:01", 8_000.0))
    eng.on_event(settle("bitmex", "XBTUSD", "2020-03-01T04:00", "0.0001"))  # flat: no payment
    assert eng.equity_usd == 100_000 + 0.5 * 8_000


def test_before_any_price_equity_is_the_cash_that_needs_none() -> None:
    assert Engine(load_config(ROOT / "config.toml"), mode="paper").equity_usd == 200_000.0
    inverse = Engine(load_config(ROOT / "configs" / "binance_bybit_inverse.toml"), mode="paper")
    assert inverse.equity_usd == 200_000.0  # the 0.5 BTC waits for a BTC price
