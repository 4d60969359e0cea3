"""Three pairs running at once in one engine, headless, through ``arbtui --replay FILE
--headless`` (issue 14 item 5): each pair's report figures, the book as their sum, the book
limit refusing an entry, and each pair hedging its own asset.

The replay (``tests/data/three_pairs_2024-03-01_04_partly_generated.jsonl``) is PARTLY
GENERATED: ``tests/make_three_pairs.py`` says what is real and what is made. Its config,
``tests/data/three_pairs.toml``:

- BTC: binance BTCUSDT (linear) against bybit BTCUSD (inverse), band ``[hedge] band_btc``
  0.0005 BTC; BTC-COINM: bybit BTCUSDT against binance BTCUSD_PERP (COIN-M, 100 USD a
  contract), ``hedge_band`` 0.001 BTC; XRP: binance XRPUSDT against bybit XRPUSDT,
  ``hedge_band`` 100 XRP, capped at 15,000 USD a leg.
- ``[risk] max_book_notional_usd = 50000``: at 2024-03-04T01:59:59.999Z the BTC pair's second
  entry would take the book from 47,379.39 to 64,263.30 USD: refused, once, with those figures.

Every figure asserted was also recomputed here from the replay file's own closes and rates
(fill prices with 2 bp slippage to the tick, taker fees, funding on the position held at each
settlement, average-entry basis PnL), independently of the engine's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import make_three_pairs
from tests.conftest import ROOT

D = Decimal
REPLAY = make_three_pairs.OUT
CONFIG = ROOT / "tests" / "data" / "three_pairs.toml"
SLIP = D("0.0002")
Key = tuple[str, str]
PAIRS: dict[str, tuple[Key, Key]] = {
    "BTC": (("binance", "BTCUSDT"), ("bybit", "BTCUSD")),
    "BTC-COINM": (("bybit", "BTCUSDT"), ("binance", "BTCUSD_PERP")),
    "XRP": (("binance", "XRPUSDT"), ("bybit", "XRPUSDT")),
}
OWNER = {key: name for name, legs in PAIRS.items() for key in legs}
COIN = ("bybit", "BTCUSD")  # the first inverse instrument a pair trades values the coin


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("state")
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(CONFIG), "--replay", str(REPLAY),
         "--headless", "--report", "json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
        env={**os.environ, "ARBTUI_STATE_DIR": str(state)},
    )  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def file() -> tuple[dict[Key, dict[str, Any]], dict[Key, list[tuple[int, Decimal]]]]:
    """(specs by key, closes by key as (ts_ms, close)) read from the replay file itself, once
    it is checked to be what its builder makes, saying what is generated, and its generated
    legs checked against their documented rules."""
    check_the_file_is_what_its_builder_makes_and_says_what_is_generated()
    lines = [json.loads(x) for x in REPLAY.read_text().splitlines()]
    specs = {(s["venue"], s["symbol"]): s for s in lines[0]["instruments"]}
    closes: dict[Key, list[tuple[int, Decimal]]] = defaultdict(list)
    for e in lines[1:]:
        if e["type"] == "bar":
            closes[(e["venue"], e["symbol"])].append((e["ts_ms"], D(repr(e["close"]))))
    check_the_generated_legs_follow_their_documented_rules(closes)
    return specs, closes


def check_the_file_is_what_its_builder_makes_and_says_what_is_generated() -> None:
    from core.domain.events import encode

    header, events = make_three_pairs.build()
    text = b"".join(encode(x) + b"\n" for x in [header, *events])
    assert REPLAY.read_bytes() == text
    layouts = {(s.venue, s.symbol): s.layout.split(":")[0] for s in header.sources}
    assert layouts == {
        ("binance", "BTCUSDT"): "REAL",
        ("bybit", "BTCUSDT"): "REAL",
        ("bybit", "BTCUSD"): "REAL",
        ("binance", "XRPUSDT"): "REAL, moved",
        ("binance", "BTCUSD_PERP"): "GENERATED from binance BTCUSDT",
        ("bybit", "XRPUSDT"): "GENERATED from binance XRPUSDT (moved)",
    }
    assert "PARTLY GENERATED" in header.created_by
    assert "generated" in REPLAY.name


def check_the_generated_legs_follow_their_documented_rules(
    closes: dict[Key, list[tuple[int, Decimal]]],
) -> None:
    src = dict(closes[("binance", "BTCUSDT")])
    for ts, c in closes[("binance", "BTCUSD_PERP")]:
        assert c == (src[ts] * D("0.9998")).quantize(D("0.1"))
    xrp = dict(closes[("binance", "XRPUSDT")])
    assert len(xrp) == 90
    for ts, c in closes[("bybit", "XRPUSDT")]:
        assert c == (xrp[ts] * D("1.0005")).quantize(D("0.0001"))
    real = json.loads(Path(make_three_pairs.XRP_MARK).read_text())
    moved = {r[0] + make_three_pairs.XRP_SHIFT_MS + 3_600_000 - 1: D(repr(r[4])) for r in real}
    assert all(moved[ts] == c for ts, c in xrp.items())


def last_close(closes: list[tuple[int, Decimal]], ts_ms: int) -> Decimal:
    return [c for t, c in closes if t <= ts_ms][-1]


def test_each_pair_reports_its_own_funding_fees_and_pnl(report: dict[str, Any]) -> None:
    per = report["per_pair"]
    assert list(per) == ["BTC", "BTC-COINM", "XRP"]
    exact = {
        name: (
            f["asset"], f["trade_count"], f["hedge_count"], f["hedge_qty"],
            f["funding_received_usd"], f["funding_paid_usd"], f["funding_usd"],
            f["fees_usd"], f["basis_usd"], f["total_usd"],
        )
        for name, f in per.items()
    }  # fmt: skip
    assert exact == {
        "BTC": (
            "BTC", 6, 2, "0.00172175",
            7.60674566, -13.701540742704, -6.094795082704,
            -21.111564489943273, 86.34620815838153, 59.139848585734256,
        ),
        "BTC-COINM": (
            "BTC", 16, 6, "0.01214237",
            45.711236601813, -38.171152864564, 7.540083737249,
            -51.72272635187261, 397.4926165417873, 353.3099739271637,
        ),
        "XRP": (
            "XRP", 8, 3, "6808.00000000",
            48.42942876, -5.3784334768, 43.0509952832,
            -17.10837228, -7.26303, 18.6795930032,
        ),
    }  # fmt: skip


def test_the_book_is_the_sum_of_its_pairs(report: dict[str, Any]) -> None:
    per, book, pnl = report["per_pair"].values(), report["book"], report["pnl_usd"]
    for key, total in (("funding_usd", "funding"), ("fees_usd", "fees"), ("basis_usd", "basis"),
                       ("total_usd", "total")):  # fmt: skip
        assert book[key] == pytest.approx(sum(f[key] for f in per), abs=1e-9)
        assert book[key] == pytest.approx(pnl[total], abs=1e-9)  # the ledger's own running sums
    assert book["trade_count"] == report["trade_count"] == 30
    assert (book["funding_usd"], book["fees_usd"], book["total_usd"]) == pytest.approx(
        (44.496283937745, -89.94266312181588, 431.129415516098), abs=1e-9
    )
    assert len(report["funding_payments"]) == 32 and report["rejections"] == 0


def test_the_book_limit_refuses_the_btc_pairs_second_entry_with_the_figures(
    report: dict[str, Any], file: tuple[dict[Key, dict[str, Any]], dict[Key, list[Any]]]
) -> None:
    assert report["alerts"] == [
        "pair BTC not started: book limit risk.max_book_notional_usd: gross notional "
        "47,379.39 + 16,883.92 = 64,263.30 USD > 50,000.00 USD"
    ]
    # the gross notional then, from the file's closes and the positions the trades left
    specs, closes = file
    at = 1_709_517_599_999  # 2024-03-04T01:59:59.999Z
    held: dict[Key, Decimal] = defaultdict(Decimal)
    for t in report["trades"]:
        if t["ts_ms"] <= at:
            held[(t["venue"], t["symbol"])] += D(t["qty"]) * (1 if t["side"] == "buy" else -1)
    gross = sum(
        abs(q) * D(specs[k]["contract_size"])
        * (1 if specs[k]["kind"] == "inverse" else last_close(closes[k], at))
        for k, q in held.items()
    )  # fmt: skip
    assert round(gross, 2) == D("47379.39")
    assert {k: q for k, q in held.items() if q} == {
        ("bybit", "BTCUSDT"): D("-0.141"),
        ("binance", "BTCUSD_PERP"): D("89"),
        ("binance", "XRPUSDT"): D("14218.4"),
        ("bybit", "XRPUSDT"): D("-14218"),
    }
    # the BTC pair never entered again: flat at the end; the two others hold
    assert report["open_positions"] == {
        "bybit:BTCUSDT": "-0.136",
        "binance:BTCUSD_PERP": "90",
        "binance:XRPUSDT": "14661.0",
        "bybit:XRPUSDT": "-14661",
    }
    assert report["book"]["gross_notional_usd"] == pytest.approx(48988.07971, abs=1e-9)


def test_each_pair_hedges_its_own_asset_inside_its_own_band(report: dict[str, Any]) -> None:
    per = report["per_pair"]
    hedges: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in report["trades"]:
        if t["purpose"] == "hedge":
            name = OWNER[(t["venue"], t["symbol"])]  # the pair whose legs the hedge is on ...
            hedges[name].append(t)
            assert t["client_order_id"].split("-")[1] == name.replace("-", "")  # ... sent it
    assert {k: len(v) for k, v in hedges.items()} == {"BTC": 2, "BTC-COINM": 6, "XRP": 3}
    # the book's BTC hedge turnover is the two BTC pairs' (0.00172175 + 0.01214237), no XRP in it
    assert report["hedge_turnover"]["btc"] == "0.01386412"
    # each pair's own largest |net delta| after any instant, in its own units, inside its band
    # (BTC 0.0005 BTC, BTC-COINM 0.001 BTC, XRP 100 XRP: 7,853 XRP a leg matched to the lot,
    # then a 5,951.7 XRP add hedged with 5,951 on the 1-XRP lot: 0.7 XRP)
    most = {k: (f["max_abs_net_delta"], f["max_abs_net_delta_ts_ms"]) for k, f in per.items()}
    assert most == {
        "BTC": ("0.00028642", 1_709_351_999_999),  # 2024-03-02T03:59:59.999Z
        "BTC-COINM": ("0.00079006", 1_709_337_599_999),  # 2024-03-01T23:59:59.999Z
        "XRP": ("0.70000000", 1_709_488_799_999),  # 2024-03-03T17:59:59.999Z
    }
    assert [(h["venue"], h["side"], h["qty"]) for h in hedges["XRP"]] == [
        ("bybit", "sell", "5951"), ("bybit", "sell", "414"), ("bybit", "sell", "443"),
    ]  # fmt: skip
    # XRP: after each of its hedges its own legs are within its band of 100 XRP
    xrp: dict[Key, Decimal] = defaultdict(Decimal)
    for t in report["trades"]:
        key = (t["venue"], t["symbol"])
        if OWNER[key] == "XRP":
            xrp[key] += D(t["qty"]) * (1 if t["side"] == "buy" else -1)
            if t["purpose"] == "hedge":
                assert abs(sum(xrp.values())) <= 100


def test_every_figure_recomputed_from_the_file(
    report: dict[str, Any], file: tuple[dict[Key, dict[str, Any]], dict[Key, list[Any]]]
) -> None:
    """Prices, fees, funding and basis PnL per pair, recomputed without the engine."""
    specs, closes = file
    fees: dict[str, Decimal] = defaultdict(Decimal)
    basis: dict[str, Decimal] = defaultdict(Decimal)
    pos: dict[Key, Decimal] = defaultdict(Decimal)
    entry: dict[Key, Decimal] = {}
    history: dict[Key, list[tuple[int, Decimal]]] = defaultdict(list)
    for t in report["trades"]:
        key, ts = (t["venue"], t["symbol"]), t["ts_ms"]
        spec, name = specs[key], OWNER[key]
        cs, tick, inverse = D(spec["contract_size"]), D(spec["tick"]), spec["kind"] == "inverse"
        buy = t["side"] == "buy"
        raw = last_close(closes[key], ts) * (1 + SLIP if buy else 1 - SLIP)
        price = (raw / tick).to_integral_value(ROUND_CEILING if buy else ROUND_FLOOR) * tick
        assert D(t["price"]) == price
        qty = D(t["qty"])
        fee = (
            qty * cs / price * D(spec["taker_fee"])
            if inverse
            else qty * price * D(spec["taker_fee"])
        )
        assert t["fee"] == pytest.approx(float(fee), abs=1e-12)
        usd = last_close(closes[COIN], ts) if inverse else D(1)
        fees[name] += fee * usd
        signed = qty if buy else -qty
        held = pos[key]
        if held and (held > 0) != (signed > 0):  # reduces: realise against the average entry
            closed = min(abs(signed), abs(held)) * (1 if held > 0 else -1)
            e = entry[key]
            pnl = closed * cs * (1 / e - 1 / price) if inverse else closed * (price - e)
            basis[name] += pnl * usd
            assert abs(signed) <= abs(held)  # no flips in this run
        elif inverse:
            entry[key] = (held + signed) / (held / entry[key] + signed / price) if held else price
        else:
            entry[key] = (held * entry[key] + signed * price) / (held + signed) if held else price
        pos[key] = held + signed
        history[key].append((ts, pos[key]))
    funding: dict[str, Decimal] = defaultdict(Decimal)
    for p in report["funding_payments"]:
        key, at = (p["venue"], p["symbol"]), p["settlement_ts_ms"]
        spec = specs[key]
        held = ([q for ts, q in history[key] if ts < at] or [D(0)])[-1]
        mark = last_close(closes[key], at)
        assert (D(p["position"]), D(p["mark_price"])) == (held, mark)
        rate, cs = D(p["rate"]), D(spec["contract_size"])
        if spec["kind"] == "inverse":
            amount = -held * cs / mark * rate
            funding[OWNER[key]] += amount * mark
        else:
            amount = -held * cs * mark * rate
            funding[OWNER[key]] += amount
        assert p["amount"] == pytest.approx(float(amount), abs=1e-12)
    coin = last_close(closes[COIN], 1 << 62)
    for key, q in pos.items():
        if q:
            mark, cs = last_close(closes[key], 1 << 62), D(specs[key]["contract_size"])
            if specs[key]["kind"] == "inverse":
                basis[OWNER[key]] += q * cs * (1 / entry[key] - 1 / mark) * coin
            else:
                basis[OWNER[key]] += q * (mark - entry[key])
    for name, f in report["per_pair"].items():
        assert f["fees_usd"] == pytest.approx(-float(fees[name]), abs=1e-9), name
        assert f["funding_usd"] == pytest.approx(float(funding[name]), abs=1e-9), name
        assert f["basis_usd"] == pytest.approx(float(basis[name]), abs=1e-6), name
        total = basis[name] + funding[name] - fees[name]
        assert f["total_usd"] == pytest.approx(float(total), abs=1e-6), name


def test_the_console_shows_each_pairs_net_delta_in_its_own_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drawdown panel's "Net Δ" with several pairs: one line per pair, its net delta and
    band in its own asset (BTC and XRP are never added together), from the engine's own
    snapshot at the end of the replay."""
    from core.domain.config import load_config
    from core.runtime.host import EngineHost
    from tests.conftest import eventually
    from tui.widgets.risk import risk_text

    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    host = EngineHost.for_replay(load_config(CONFIG), REPLAY, speed=None)
    host.start()
    try:
        eventually(lambda: host.finished, timeout_s=60)
        risk = host.snapshot().risk
    finally:
        host.stop()
    names = [(name, asset, band) for name, asset, _, band in risk.pair_deltas]
    assert names == [("BTC", "BTC", 0.0005), ("BTC-COINM", "BTC", 0.001), ("XRP", "XRP", 100.0)]
    assert all(abs(delta) <= band for _, _, delta, band in risk.pair_deltas)
    text = risk_text(risk).plain
    for name, asset, delta, band in risk.pair_deltas:
        assert f"{name} {delta:+,.4f} {asset} ±{band:,.4f} ok" in text
    xrp = [leg for leg in host.snapshot().legs if leg.symbol == "XRPUSDT"]
    assert [(leg.unit, leg.asset) for leg in xrp] == [("XRP", "XRP")] * 2  # it said BTC
    assert "BTC  band" not in text  # not the one-pair row in BTC


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same run's text report."""
    state = tmp_path_factory.mktemp("state")
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(CONFIG), "--replay", str(REPLAY),
         "--headless", "--report", "text"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
        env={**os.environ, "ARBTUI_STATE_DIR": str(state)},
    )  # fmt: skip
    return out.stdout


def test_the_books_hedges_are_per_asset_never_btc_and_xrp_summed(
    report: dict[str, Any],
    text: str,
    file: tuple[dict[Key, dict[str, Any]], dict[Key, list[Any]]],
) -> None:
    """The book's largest |net BTC delta| counts BTC positions only (it was 0.7005 "BTC":
    XRP's 0.7 XRP in it), recomputed here at every instant of the file from the positions
    the trades left and the closes; XRP's own, and each asset's hedges, beside it."""
    specs, closes = file
    instants = sorted({ts for series in closes.values() for ts, _ in series})
    held: dict[Key, Decimal] = defaultdict(Decimal)
    trades = iter(report["trades"])
    pending = next(trades, None)
    most = {"BTC": (D(0), 0), "XRP": (D(0), 0)}
    for ts in instants:
        while pending is not None and pending["ts_ms"] <= ts:
            key = (pending["venue"], pending["symbol"])
            held[key] += D(pending["qty"]) * (1 if pending["side"] == "buy" else -1)
            pending = next(trades, None)
        net = {"BTC": D(0), "XRP": D(0)}
        for key, qty in held.items():
            spec, asset = specs[key], ("XRP" if OWNER[key] == "XRP" else "BTC")
            cs = D(spec["contract_size"])
            net[asset] += qty * cs / last_close(closes[key], ts) if spec["kind"] == "inverse" \
                else qty * cs  # fmt: skip
        for asset, n in net.items():
            if abs(n) > most[asset][0]:
                most[asset] = (abs(n), ts)
    assert most["BTC"][1] == 1_709_351_999_999  # 2024-03-02T03:59:59.999Z
    assert most["XRP"] == (D("0.7"), 1_709_488_799_999)  # 2024-03-03T17:59:59.999Z
    h = report["hedge_turnover"]
    assert h["max_abs_net_delta_btc"] == pytest.approx(float(most["BTC"][0]), rel=1e-9)
    assert round(h["max_abs_net_delta_btc"], 8) == 0.00107648  # not 0.7005
    assert h["max_abs_net_delta_ts_ms"] == 1_709_351_999_999
    assert (h["count"], h["btc"]) == (11, "0.01386412")  # 11: every asset's hedge fills
    by = {a: {k: v for k, v in f.items() if k != "fees_usd"} for a, f in h["by_asset"].items()}
    assert by == {
        "BTC": {"count": 8, "qty": "0.01386412", "max_abs_net_delta": "0.00107648",
                "max_abs_net_delta_ts_ms": 1_709_351_999_999},
        "XRP": {"count": 3, "qty": "6808.00000000", "max_abs_net_delta": "0.70000000",
                "max_abs_net_delta_ts_ms": 1_709_488_799_999},
    }  # fmt: skip
    # each asset's hedge fees, summed: the book's (every asset's) hedge fees
    assert h["by_asset"]["BTC"]["fees_usd"] + h["by_asset"]["XRP"]["fees_usd"] == (
        pytest.approx(h["fees_usd"], abs=1e-9)
    )
    assert (
        "hedges            11 fills, fees 4.52 USD: BTC 8 fills, 0.0139 BTC, max |net delta|"
        " 0.0011 BTC (2024-03-02T03:59:59Z); XRP 3 fills, 6,808.0000 XRP, max |net delta|"
        " 0.7000 XRP (2024-03-03T17:59:59Z)\n"
    ) in text


def test_the_text_report_lists_open_legs_with_units_alert_times_and_no_flat_break_even(
    report: dict[str, Any], text: str
) -> None:
    assert report["open_legs"] == [
        {"pair": "BTC-COINM", "venue": "bybit", "symbol": "BTCUSDT", "qty": "-0.136",
         "unit": "BTC"},
        {"pair": "BTC-COINM", "venue": "binance", "symbol": "BTCUSD_PERP", "qty": "90",
         "unit": "contracts"},
        {"pair": "XRP", "venue": "binance", "symbol": "XRPUSDT", "qty": "14661.0", "unit": "XRP"},
        {"pair": "XRP", "venue": "bybit", "symbol": "XRPUSDT", "qty": "-14661", "unit": "XRP"},
    ]  # fmt: skip
    assert report["alert_ts_ms"] == [1_709_517_599_999]  # 2024-03-04T01:59:59.999Z
    assert (
        "final state       ARMED  open legs:\n"
        "  BTC-COINM       bybit BTCUSDT -0.136 BTC; binance BTCUSD_PERP 90 contracts\n"
        "  XRP             binance XRPUSDT 14661.0 XRP; bybit XRPUSDT -14661 XRP\n"
        "alert             2024-03-04T01:59:59Z pair BTC not started: book limit"
        " risk.max_book_notional_usd: gross notional 47,379.39 + 16,883.92 = 64,263.30 USD"
        " > 50,000.00 USD\n"
    ) in text
    assert "{'" not in text  # no Python dict
    # the BTC pair is flat with an entry paying back in 20 days: that figure stays
    assert "break even        BTC (flat): 20.0 days" in text


def test_the_strategys_sharpe_leaves_the_collateral_out(report: dict[str, Any]) -> None:
    """The account equity's Sharpe includes the BTC collateral's rise (4,169 USD of the 4,600
    gained); the strategy's own (hourly start equity + strategy PnL) does not."""
    assert report["collateral_revaluation_usd"] == pytest.approx(4169.09, abs=0.01)
    assert report["sharpe"] == pytest.approx(15.425139977141283, rel=1e-9)
    assert report["sharpe_strategy"] == pytest.approx(57.08686803000895, rel=1e-9)
