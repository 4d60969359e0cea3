"""The shipped 2024 replay, headless, with the default config (Binance BTCUSDT / Bybit BTCUSDT)
and configs/binance_bybit_inverse.toml (Binance BTCUSDT / Bybit BTCUSD inverse).

Each funding payment is checked against the source CSVs (copies in tests/data): the rate is
the one settled at that instant, the mark is the close of the last bar that had closed by
then (a Bybit bar labelled t closes at t + 4 h, a Binance one at t + 8 h: never the bar of
the settlement's own label), and the amount is position x mark x rate (linear, USDT) or
contracts / mark x rate (inverse, BTC), paid by longs when the rate is positive.
"""

from __future__ import annotations

import bisect
import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.importer_files import (
    BINANCE_BARS_AHA,
    BYBIT_BARS_AHA,
    BYBIT_FUNDING_AHA,
    BYBIT_INV_BARS_AHA,
    BYBIT_INV_FUNDING_AHA,
    DATA,
    HOUR_MS,
    WEBEXPORT_2024,
)

REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
CONFIGS = {
    "linear": ROOT / "config.toml",
    "inverse": ROOT / "configs" / "binance_bybit_inverse.toml",
}
#: (venue, symbol) -> (funding file, rate column, bar file, hours from label to close)
SOURCES = {
    ("binance", "BTCUSDT"): (WEBEXPORT_2024, "calc_time", "last_funding_rate", BINANCE_BARS_AHA, 8),
    ("bybit", "BTCUSDT"): (BYBIT_FUNDING_AHA, "funding_time", "funding_rate", BYBIT_BARS_AHA, 4),
    ("bybit", "BTCUSD"): (
        BYBIT_INV_FUNDING_AHA,
        "funding_time",
        "funding_rate",
        BYBIT_INV_BARS_AHA,
        4,
    ),
}


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    config: Path = CONFIGS[request.param]
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(config),
         "--replay", str(REPLAY), "--headless", "--report", "json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_it_plays_every_event_and_ends_flat(report: dict[str, Any]) -> None:
    assert report["events"] == 378
    assert 1709251200000 <= report["first_ts_ms"] < report["last_ts_ms"] == 1711065599999
    assert report["funding_payments"], "the pair should hold positions over some settlement"
    assert report["open_positions"] in ([], {}, None)


def test_funding_payments_use_the_settled_rate_and_the_mark_known_then(
    report: dict[str, Any],
) -> None:
    rates: dict[tuple[str, str, int], Decimal] = {}
    closes: dict[tuple[str, str], tuple[list[int], list[Decimal]]] = {}
    for key, (funding, time_col, rate_col, bars, close_h) in SOURCES.items():
        for row in rows(funding):
            rates[(*key, int(row[time_col]))] = Decimal(row[rate_col])
        known = [
            (int(r["label_time"]) + close_h * HOUR_MS - 1, Decimal(r["close"])) for r in rows(bars)
        ]
        closes[key] = ([t for t, _ in known], [c for _, c in known])
    for pay in report["funding_payments"]:
        key = (pay["venue"], pay["symbol"])
        when = pay["settlement_ts_ms"]
        assert when % (8 * HOUR_MS) == 0
        rate = Decimal(pay["rate"])
        assert rate == rates[(*key, when)]
        times, values = closes[key]
        mark = values[bisect.bisect_left(times, when) - 1]
        assert Decimal(pay["mark_price"]) == mark, pay
        pos = Decimal(pay["position"])
        expected = -pos / mark * rate if pay["currency"] == "BTC" else -pos * mark * rate
        assert float(expected) == pytest.approx(pay["amount"], rel=1e-9, abs=1e-12)
