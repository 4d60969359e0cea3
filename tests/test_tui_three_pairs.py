"""The console on the three-pair replay (tests/data/three_pairs*.jsonl with its .toml: Binance
BTCUSDT / Bybit BTCUSD, Bybit BTCUSDT / Binance COIN-M BTCUSD_PERP, XRPUSDT on both), played to
its end, read off the screen at 120x40 and 80x24: what an operator would notice.

- Prices have their instrument's tick's decimals (XRP 1.1114, not 1.11), quantities and sizes
  their lot's (14,661.0 XRP on Binance, lot 0.1; -14,661 on Bybit, lot 1).
- BTCUSD_PERP shows whole at 120 columns (the legs leave out Qty BTC to make room), and is cut
  with an ellipsis at 80, on purpose.
- The BTC pair, closed, has no ladder left (it showed its level 0 "filled"); the XRP legs'
  levels the 15,000 USD cap leaves no room for say "over cap", not "pending".
- At 80x24 the drawdown panel shows its Data row and one line per pair's net delta.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.domain.config import load_config
from core.runtime.host import EngineHost
from tests.conftest import ROOT
from tui.app import ArbConsole
from tui.testing import eventually, wait_until
from tui.widgets import KeyedTable

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def host() -> Iterator[EngineHost]:
    """The replay played flat out to its end (audit, logs and metrics are off in its config)."""
    h = EngineHost.for_replay(
        load_config(DATA / "three_pairs.toml"),
        DATA / "three_pairs_2024-03-01_04_partly_generated.jsonl",
        speed=None,
    )
    h.start()
    wait_until(lambda: h.finished, timeout=60, what="replay finished")
    yield h
    h.stop(timeout_s=2.0)


def screen_lines(app: ArbConsole) -> list[str]:
    """The screen as text, a line a row (what tmux capture-pane shows)."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


def row_text(table: KeyedTable, key: str) -> str:
    """The drawn line of row ``key`` of ``table``."""
    return table.render_line(table.row_keys.index(key) + 1).text


async def test_120x40_prices_by_tick_quantities_by_lot_and_whole_symbols(
    host: EngineHost,
) -> None:
    app = ArbConsole(host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None and app.snapshot.legs)
        await pilot.pause(0.2)
        legs = app.query_one("#legs-table", KeyedTable)
        assert "qty_btc" not in legs.column_keys  # the spare column made room for the symbol
        assert legs.virtual_size.width <= legs.region.width
        assert row_text(legs, "binance:XRPUSDT").split() == [
            "binance", "XRPUSDT", "+14,661.0", "XRP", "1.1114", "1.0605", "-745.59", "USDT",
            "-745.59", "-5.38", "USDT", "-5.38",
        ]  # fmt: skip
        assert row_text(legs, "bybit:XRPUSDT").split()[:6] == [
            "bybit", "XRPUSDT", "-14,661", "XRP", "1.1114", "1.0610",
        ]  # fmt: skip
        assert row_text(legs, "binance:BTCUSD_PERP").split()[:6] == [
            "binance", "BTCUSD_PERP", "+90", "ct", "62,242.0", "66,492.1",
        ]  # fmt: skip
        assert row_text(legs, "binance:BTCUSDT").split()[2:6] == ["+0.000", "BTC", "—", "66,505.40"]
        assert row_text(legs, "bybit:BTCUSDT").split()[4:6] == ["62,776.1", "65,328.1"]
        venues = app.query_one("#funding-venues", KeyedTable)
        assert row_text(venues, "binance:BTCUSD_PERP").split()[:2] == ["binance", "BTCUSD_PERP"]
        lines = screen_lines(app)
        assert [line for line in lines if "BTCUSD…" in line] == []
        assert "XRPUSDT      +14,661.0 XRP     1.1114     1.0605" in "\n".join(lines)

        await pilot.press("2")
        ladders = app.query_one("#ladders-detail KeyedTable", KeyedTable)
        await eventually(pilot, lambda: ladders.row_count == 20)
        keys = ladders.row_keys
        # BTC (binance BTCUSDT / bybit BTCUSD) closed its round trip: its ladder went with it
        assert not [k for k in keys if k.startswith(("binance:BTCUSDT:", "bybit:BTCUSD:"))]
        assert [ladders.cell_text(f"bybit:XRPUSDT:{i}", "status") for i in range(5)] == [
            "filled", "over cap", "over cap", "over cap", "over cap",
        ]  # fmt: skip
        assert row_text(ladders, "bybit:XRPUSDT:1").split() == [
            "bybit", "XRPUSDT", "1", "3.0%", "1.1720", "—", "—", "over", "cap",
        ]  # fmt: skip
        # Binance's long XRP leg: 14,661.0 XRP are 14,180.34 USD at 0.9672, 819.66 left
        assert row_text(ladders, "binance:XRPUSDT:4").split() == [
            "binance", "XRPUSDT", "4", "15.0%", "0.9672", "~847.4", "~820", "pending",
        ]  # fmt: skip
        assert row_text(ladders, "binance:XRPUSDT:1").split() == [
            "binance", "XRPUSDT", "1", "3.0%", "1.1038", "5,951.7", "6,468", "filled",
        ]  # fmt: skip
        assert row_text(ladders, "binance:BTCUSD_PERP:4").split()[:2] == ["binance", "BTCUSD_PERP"]
        assert ladders.cell_text("binance:BTCUSD_PERP:4", "status") == "over cap"


async def test_80x24_symbols_cut_on_purpose_and_the_data_row_and_each_pairs_delta_show(
    host: EngineHost,
) -> None:
    app = ArbConsole(host)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None and app.snapshot.legs)
        await pilot.pause(0.2)
        legs = app.query_one("#legs-table", KeyedTable)
        assert legs.compact and legs.virtual_size.width <= legs.region.width
        assert row_text(legs, "binance:BTCUSD_PERP").split()[:2] == ["binance", "BTCUSD…"]
        # open legs first: a short terminal cuts a flat leg before any position
        qty = {leg.venue + ":" + leg.symbol: leg.qty for leg in app.snapshot.legs}
        order = legs.row_keys
        assert [k for k in order if qty[k] != 0] == order[: sum(q != 0 for q in qty.values())]
        assert qty["binance:BTCUSD_PERP"] != 0 and 0 in qty.values()  # both kinds here
        lines = screen_lines(app)
        risk = [line[:36] for line in lines[13:23]]  # the drawdown panel, left of the log
        assert risk == [
            "╭─ Drawdown ───────────────────────╮",
            "│ Equity   265,808.71 USD          │",
            "│          peak 265,808.71         │",
            "│ Drawdown 0.00% of limit 10.00%   │",
            "│          [··········] max 0.16%  │",
            "│ Data     recorded, ended         │",
            "│ Net Δ    BTC +0.0000 ok          │",
            "│          BTC-COINM -0.0006 ok    │",
            "│          XRP +0.0000 ok          │",
            "╰──────────────────────────────────╯",
        ]
        pairs = app.query_one("#funding-pairs", KeyedTable)
        assert row_text(pairs, "BTC-COINM").split()[0] == "BTC-COINM"  # whole at 80 too
        await pilot.press("2")  # 20 levels do not fit 24 rows: the panel says so
        panel = app.query_one("#ladders-detail")
        await eventually(pilot, lambda: str(panel.border_subtitle).startswith("+"))
        assert str(panel.border_subtitle) == "+1 rows: a taller terminal shows them"
