"""The console's funding-scanner screen (tui/scanner_screen.py; key ``s``), with Pilot.

1. The screen alone on a fixed ranking (the exact universe of tests/test_scan_ranking.py) held
   by :class:`HeldFeed` (a feed whose result the test sets): ranked order, the detail pane of
   the selected row (countdown, cap, settled vs next kept apart), the history sparkline, an
   update applied by row key, sorting by a column header and by ``o``, ``r`` and ``escape``.
2. The whole console (the shipped March 2020 replay, paused) with ``s``: the real scanner
   (core/runtime/scan_host.py on its own thread) against the fake universe endpoints on
   127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.app import App
from textual.widgets import Input, Sparkline, Static

from core.domain.config import load_config
from core.domain.scan import ScanSettings, rank
from core.domain.universe import match
from core.runtime.scan_host import ScanHost
from core.runtime.scanner import ScanResult
from tests.conftest import HISTORY_CONFIG, ROOT
from tests.fake_exchange.thread import ServerThread
from tests.fake_exchange.universe import FakeUniverse
from tests.test_scan_ranking import BTC_BN, BTC_BY, ETH_BY, HISTORIES, NOW, SOL_BN, SOL_BY, S
from tests.test_scan_ranking import ETH_BN as ETH_BN
from tui.app import ArbConsole
from tui.scan_table import ScanTable
from tui.scanner_screen import PathModal, ScannerScreen, state_line
from tui.testing import RecordingHost, eventually, wait_until

REPLAY = Path(__file__).resolve().parent.parent / "replays" / "btc_2020-03.jsonl.gz"


class HeldFeed:
    """A scan feed whose latest result the test sets."""

    def __init__(self, result: ScanResult | None) -> None:
        self.result = result
        self.error = ""
        self.asked = 0
        self.settings = load_config(ROOT / "config.toml")

    def latest(self) -> ScanResult | None:
        return self.result

    def refresh_now(self) -> None:
        self.asked += 1


def result(perps: list[Any]) -> ScanResult:
    rows = rank(match(perps), S, NOW, HISTORIES)
    return ScanResult(rows, {"binance": 3, "bybit": 3}, len(rows), {}, NOW, 1.0, HISTORIES)


class Holder(App[None]):
    def __init__(self, feed: HeldFeed) -> None:
        super().__init__()
        self.feed = feed

    def on_mount(self) -> None:
        self.push_screen(ScannerScreen(self.feed, clock=lambda: NOW))


def keys(table: ScanTable) -> list[str]:
    return list(table.order)


SOL = "SOL binance:SOLUSDT|bybit:SOLUSDT"
ETH = "ETH binance:ETHUSDT|bybit:ETHUSDT"
BTC = "BTC binance:BTCUSDT|bybit:BTCUSD"
ETH_KEY = "ETH binance:ETHUSDT/bybit:ETHUSDT"


async def test_ranked_table_detail_pane_update_by_row_key_and_sorting(tmp_path: Path) -> None:
    feed = HeldFeed(result([BTC_BY, SOL_BY, ETH_BY, BTC_BN, SOL_BN, ETH_BN]))
    app = Holder(feed)
    async with app.run_test(size=(160, 40)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
        screen = app.screen
        assert isinstance(screen, ScannerScreen)
        await eventually(pilot, lambda: screen.applied == 1)
        table = screen.query_one("#scan-table", ScanTable)
        assert keys(table) == [SOL, ETH, BTC]  # by net carry
        assert table.cell_text(SOL, "net") == "3.255"  # 0.03465 - 0.0021
        assert table.cell_text(SOL, "long") == "bybit SOLUSDT 8h CAP"
        assert table.cell_text(ETH, "d1") == "69.4"  # (0.0022 - 0.0003) / 24 x 8760 = 69.35 %
        detail = str(screen.query_one("#scan-detail", Static).render())
        assert "SOL: short binance, long bybit" in detail
        assert "next -0.3750% / 8 h (in 8h00m00s)   last settled -" in detail
        assert "AT CAP" in detail
        assert "+37.5 USDT (+37.50 USD)" in detail  # the long leg receives a negative rate
        # the ETH row: settled 0.02 % (not the 0.04 % estimate) and its history sparkline
        await pilot.press("down")
        await pilot.pause()
        detail = str(screen.query_one("#scan-detail", Static).render())
        assert "next 0.0400% / 4 h (in 4h00m00s)   last settled 0.0200%" in detail
        spark = screen.query_one("#spark-short", Sparkline)
        assert list(spark.data or []) == [0.0004] * 47 + [0.0002]
        assert str(screen.query_one("#spark-short-label", Static).render()) == (
            "short settled: 48 rows"
        )
        # a new result: BTC gone, ETH's Bybit estimate moved; rows keep their keys
        eth_by = replace(ETH_BY, next_rate=0.0002)
        feed.result = result([SOL_BY, eth_by, SOL_BN, ETH_BN])
        await eventually(pilot, lambda: screen.applied == 2)
        assert keys(table) == [SOL, ETH]
        assert table.cell_text(ETH, "apr") == f"{(0.0001 - 0.000025) * 8760 * 100:.1f}"
        # sort: the asset header (ascending), again (descending), then `o` to the next column
        await pilot.click("#scan-table", offset=(2, 0))
        await pilot.pause()
        assert (screen.sort_column, screen.sort_reverse, keys(table)) == (
            "asset",
            False,
            [ETH, SOL],
        )
        await pilot.click("#scan-table", offset=(2, 0))
        await pilot.pause()
        assert keys(table) == [SOL, ETH]
        await pilot.press("o")
        assert (screen.sort_column, screen.sort_reverse) == ("short", False)
        await pilot.press("r")
        assert feed.asked == 1
        # `w`: the selected pair (ETH, the cursor's since `down`) into a config file
        await pilot.press("w")
        await eventually(pilot, lambda: isinstance(app.screen, PathModal), what="path prompt")
        field = app.screen.query_one("#path", Input)
        assert field.value == "scanned_pairs.toml"
        field.value = str(tmp_path / "mine.toml")
        await pilot.press("enter")
        await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
        await eventually(pilot, lambda: bool(screen.last_message), what="written")
        assert screen.last_message == (
            f"pair ETH-binance-bybit ({ETH_KEY}) is in {tmp_path / 'mine.toml'}"
        )
        written = load_config(tmp_path / "mine.toml")
        assert (written.pairs[-1].leg_a, written.pairs[-1].leg_b) == (
            "binance_ethusdt",
            "bybit_ethusdt",
        )
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, ScannerScreen))


class ScheduledFeed(HeldFeed):
    """A held feed that says, as :class:`ScanHost` does, its refresh period and settings."""

    def __init__(self, result: ScanResult | None) -> None:
        super().__init__(result)
        self.every_s = 30.0
        self.scan = ScanSettings(min_net_apr_pct=5.0, min_volume_usd=1e6)


async def test_the_state_line_says_when_how_many_and_which_filters_at_80x24_and_120x40() -> None:
    """At 80x24 the table showed its first 7 columns cut at the right edge, under a line without
    the scan's age or its filters: now the compact columns (legs, net APR, net) fit, the table
    keeps room (no sparklines below 34 rows) and the state line says the rest."""
    feed = ScheduledFeed(result([BTC_BY, SOL_BY, ETH_BY, BTC_BN, SOL_BN, ETH_BN]))
    app = Holder(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
        screen = app.screen
        assert isinstance(screen, ScannerScreen)
        await eventually(pilot, lambda: screen.applied == 1)
        await pilot.pause()
        table = screen.query_one("#scan-table", ScanTable)
        assert table.shown_columns == ["asset", "short", "long", "net", "net_apr"]
        assert table.columns_in_view() == 5 and table.virtual_size.width <= table.size.width
        head = str(screen.query_one("#scan-head", Static).render())
        assert head == (
            "scan 08:00:00 UTC, 0 s ago (every 30 s) | 3 of 3 pairs | binance 3, bybit 3 perps\n"
            "filters: net APR >= 5%, volume >= 1,000,000 USD | net over 72 h on 10,000 USD a "
            "leg | sort net desc | 5 of 15 columns (wider terminal: all)"
        )
        assert table.region.height >= 8  # header and the rows, the detail pane below
        assert screen.query_one("#scan-head").region.height <= 4
        await pilot.press("o")  # cycles the shown columns: from net to net APR
        assert screen.sort_column == "net_apr"
        await pilot.resize_terminal(120, 40)
        await eventually(pilot, lambda: len(table.shown_columns) == 15)
        await pilot.pause()
        fit = table.columns_in_view()
        assert 0 < fit < 15  # 15 columns are wider than 120: the others scroll into view
        head = str(screen.query_one("#scan-head", Static).render())
        assert head.endswith(f"sort net_apr desc | {fit} of 15 columns fit (left/right scroll)")


def test_the_state_line_counts_the_scans_age_in_seconds() -> None:
    res = result([BTC_BY, BTC_BN])
    assert state_line(res, NOW + 75_000) == (
        "scan 08:00:00 UTC, 75 s ago | 1 of 1 pairs | binance 3, bybit 3 perps"
    )
    assert state_line(res, NOW, scan=ScanSettings(), sort="net desc", columns=(14, 14, 14)) == (
        "scan 08:00:00 UTC, 0 s ago | 1 of 1 pairs | binance 3, bybit 3 perps\n"
        "filters: none | net over 72 h on 10,000 USD a leg | sort net desc"
    )


@pytest.fixture
def fake() -> Iterator[FakeUniverse]:
    st = ServerThread()
    f = st.call(FakeUniverse().start())
    yield f
    st.call(f.stop())
    st.close()


@pytest.fixture
def replay_host() -> Iterator[RecordingHost]:
    host = RecordingHost.for_replay(
        load_config(HISTORY_CONFIG), REPLAY, pause_at_ts_ms=1584079200000
    )
    host.start()
    wait_until(lambda: host.snapshot().replay.paused, what="replay paused")
    yield host
    host.stop(timeout_s=2.0)


async def test_s_opens_the_scanner_on_the_real_scan_host(
    fake: FakeUniverse, replay_host: RecordingHost
) -> None:
    st = load_config(ROOT / "config.toml")
    feeds = msgspec.structs.replace(st.feeds, binance_rest_url=fake.url, bybit_rest_url=fake.url)
    settings = msgspec.structs.replace(st, feeds=feeds)
    hosts: list[ScanHost] = []

    def start() -> ScanHost:
        hosts.append(ScanHost(settings, history_rows=3).start())
        return hosts[-1]

    app = ArbConsole(replay_host, settings, scanner=start)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await eventually(pilot, lambda: app.snapshot is not None)
            await pilot.press("s")
            await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
            screen = app.screen
            assert isinstance(screen, ScannerScreen)
            await eventually(pilot, lambda: screen.applied >= 1, timeout=30, what="a scan")
            table = screen.query_one("#scan-table", ScanTable)
            assert table.row_count == 2 + fake.gen
            assert keys(table)[0] == "BTC binance:BTCUSDT|bybit:BTCUSD"
            head = str(screen.query_one("#scan-head", Static).render())
            assert f"of {2 + fake.gen} pairs" in head
            # Binance's open interest lands behind the first scan (the round's end refreshes
            # at once): the BTC row's smaller leg is Bybit's inverse, 240,113,967 USD
            btc = "BTC binance:BTCUSDT|bybit:BTCUSD"
            await eventually(
                pilot, lambda: table.cell_text(btc, "oi") == "240.1", timeout=30, what="OI"
            )
            detail = str(screen.query_one("#scan-detail", Static).render())
            assert "open interest 885,456,632 USD (10,659.5 contracts, " in detail
            await pilot.press("escape")
            await eventually(pilot, lambda: not isinstance(app.screen, ScannerScreen))
            await pilot.press("s")  # the same scanner again, not a second one
            await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
            assert len(hosts) == 1
    finally:
        for h in hosts:
            h.stop(timeout_s=2.0)
