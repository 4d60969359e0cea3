"""The shipped March 2020 replay, headless: the JSON report is consistent with the source data.

Funding payments are checked against the exchanges' own CSVs (copies in tests/data) at each
venue's real settlement instants, and recomputed from position, mark and rate.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import DATA, HISTORY_CONFIG, ROOT, SHIPPED_REPLAY

D = Decimal


def headless(fmt: str) -> str:
    """stdout of ``arbtui --replay SHIPPED --headless --report FMT`` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(HISTORY_CONFIG),
         "--replay", str(SHIPPED_REPLAY), "--headless", "--report", fmt],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return out.stdout


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return json.loads(headless("json"))  # type: ignore[no-any-return]


def source_rates() -> dict[tuple[str, int], D]:
    rates: dict[tuple[str, int], D] = {}
    with (DATA / "binance_um_BTCUSDT_fundingRate_2020-03_api.csv").open() as fh:
        for row in csv.DictReader(fh):
            raw = int(row["funding_time"])
            rates[("binance", raw - raw % 3_600_000)] = D(row["funding_rate"])
    with (DATA / "bitmex_XBTUSD_funding_2020-01_2020-04.csv").open() as fh:
        for row in csv.DictReader(fh):
            when = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            rates[("bitmex", int(when.timestamp() * 1000))] = D(
                format(float(row["fundingRate"]), ".10g")
            )
    return rates


def test_report_has_the_documented_fields(report: dict[str, Any]) -> None:
    for key in (
        "events",
        "trades",
        "funding_payments",
        "pnl_usd",
        "max_drawdown_pct",
        "final_trading_state",
        "wall_s",
        "events_per_s",
    ):
        assert key in report
    assert report["events"] == 33_879
    t = report["trades"][0]
    assert set(t) >= {
        "ts_ms",
        "venue",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "fee_currency",
        "reduce_only",
    }
    f = report["funding_payments"][0]
    assert set(f) >= {
        "venue",
        "symbol",
        "settlement_ts_ms",
        "rate",
        "mark_price",
        "position",
        "amount",
        "currency",
        "amount_usd",
    }


def test_funding_payments_use_the_source_rate_at_the_venues_settlement_times(
    report: dict[str, Any],
) -> None:
    rates = source_rates()
    pays = report["funding_payments"]
    assert len(pays) >= 20
    for p in pays:
        when = dt.datetime.fromtimestamp(p["settlement_ts_ms"] / 1000, dt.UTC)
        hours = {"binance": {0, 8, 16}, "bitmex": {4, 12, 20}}[p["venue"]]
        assert when.hour in hours and when.minute == 0 and when.second == 0
        assert D(p["rate"]) == rates[(p["venue"], p["settlement_ts_ms"])]


def test_every_funding_payment_is_position_times_mark_times_rate(report: dict[str, Any]) -> None:
    for p in report["funding_payments"]:
        pos, mark, rate = D(p["position"]), D(p["mark_price"]), D(p["rate"])
        if p["symbol"] == "XBTUSD":  # inverse: contracts / mark x rate, in XBT
            expected = -pos / mark * rate
            assert p["currency"] == "XBT"
            assert p["amount_usd"] == pytest.approx(float(expected * mark), rel=1e-9)
        else:  # linear: BTC x mark x rate, in USDT
            expected = -pos * mark * rate
            assert p["currency"] == "USDT"
        assert p["amount"] == pytest.approx(float(expected), rel=1e-12)
        # sign: longs pay when the rate is positive
        assert (p["amount"] > 0) == ((pos > 0) == (rate < 0))


def test_the_march_crash_pays_the_long_xbtusd_leg(report: dict[str, Any]) -> None:
    capped = [
        p for p in report["funding_payments"] if p["venue"] == "bitmex" and p["rate"] == "-0.00375"
    ]
    assert len(capped) == 6  # six settlements at the -0.375 % cap, all received
    assert all(p["amount"] > 0 and D(p["position"]) > 0 for p in capped)


def test_pnl_parts_add_up_to_the_total(report: dict[str, Any]) -> None:
    p = report["pnl_usd"]
    assert p["basis"] + p["funding"] + p["fees"] == pytest.approx(p["total"], abs=1e-6)
    assert p["funding"] == pytest.approx(sum(f["amount_usd"] for f in report["funding_payments"]))
    assert p["funding"] > 0 and p["fees"] < 0
    eq = report["equity_end_usd"] - report["equity_start_usd"]
    assert eq == pytest.approx(p["total"] + report["collateral_revaluation_usd"])


def test_exits_are_reduce_only_and_the_run_ends_flat(report: dict[str, Any]) -> None:
    assert all(t["reduce_only"] for t in report["trades"] if t["purpose"] == "exit")
    assert report["open_positions"] == {}
    assert report["final_trading_state"] == "ARMED"
    assert 0 < report["max_drawdown_pct"] < 10


def test_text_report_is_for_a_person() -> None:
    text = headless("text")
    assert "PnL (USD)" in text
    assert "2020-03-13T04:00:00Z bitmex  XBTUSD   rate    -0.00375" in text


def test_one_pair_reports_keep_their_form_and_a_flat_pair_gives_no_break_even(
    tmp_path: Any,
) -> None:
    """The 2024 replay on config.toml ends flat, the spread paying for an entry at once:
    ``— (flat)``, not ``0.0 days``; a one-pair BTC report gains no per-asset keys."""
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", "config.toml",
         "--replay", "replays/btc_binance_bybit_2024-03.jsonl.gz", "--headless"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
        env={**__import__("os").environ, "ARBTUI_STATE_DIR": str(tmp_path)},
    ).stdout  # fmt: skip
    assert "break even        BTC: — (flat)\n" in out
    assert "0.0 days" not in out
    assert "final state       ARMED  open none\n" in out
    assert (
        "hedges            0 fills, 0.0000 BTC, fees 0.00 USD; max |net delta| 0.0000 BTC\n"
    ) in out


def test_the_one_pair_json_report_has_no_per_asset_keys(report: dict[str, Any]) -> None:
    assert "by_asset" not in report["hedge_turnover"]
    assert "open_legs" not in report and "alert_ts_ms" not in report


def test_without_coin_collateral_both_sharpes_agree() -> None:
    from core.domain.config import load_config
    from core.runtime.headless import run_replay
    from tests.conftest import ROOT

    report = run_replay(
        load_config(ROOT / "config.toml"), ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
    )
    assert report["collateral_revaluation_usd"] == pytest.approx(0.0, abs=1e-6)
    assert report["sharpe_strategy"] == pytest.approx(report["sharpe"], rel=1e-9)
    assert report["sharpe"] == pytest.approx(3.4130637882391994, rel=1e-9)
