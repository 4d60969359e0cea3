"""The layout at each supported size, on the shipped default replay with config.toml paused
with a hedge open: nothing an operator needs is below the fold or cut at the right edge, and
no panel grows a scrollbar (issue 13, item 1). The snapshots show the same screens; these
tests say what must hold in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.config import load_config
from core.runtime.host import EngineHost
from tests.conftest import ROOT
from tui.app import ArbConsole
from tui.testing import eventually, wait_until
from tui.widgets import KeyedTable

REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
OPEN_TS_MS = 1710504000000  # 2024-03-15T12:00Z: hedge open, binance laddered


@pytest.fixture(scope="module")
def host() -> Iterator[EngineHost]:
    h = EngineHost.for_replay(load_config(ROOT / "config.toml"), REPLAY, pause_at_ts_ms=OPEN_TS_MS)
    h.start()
    wait_until(lambda: h.snapshot().replay.paused, what="replay paused")
    yield h
    h.stop(timeout_s=2.0)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 50)], ids=str)
async def test_everything_needed_is_on_screen(host: EngineHost, size: tuple[int, int]) -> None:
    width, height = size
    app = ArbConsole(host)
    async with app.run_test(size=size) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None and app.snapshot.legs)
        await pilot.pause()
        for panel in ("#status", "#funding", "#legs", "#risk", "#log"):
            region = app.query_one(panel).region
            assert region.height > 0, panel
            assert region.bottom <= height - 1 and region.right <= width, panel  # above footer
        assert app.query_one("#log").region.height >= 4  # a few log lines at least
        for table in app.query(KeyedTable):
            if table.region.height == 0:
                continue  # not on this view at this size
            assert table.virtual_size.width <= table.scrollable_content_region.width, table.id
            assert not table.show_horizontal_scrollbar and not table.show_vertical_scrollbar
            assert table.row_count == len(table.row_keys)
        pairs = app.query_one("#funding-pairs", KeyedTable)
        shown = set(pairs.column_keys)
        assert {"pair", "spread", "apr", "basis", "edge", "status"} <= shown
        legs = app.query_one("#legs-table", KeyedTable)
        assert {"qty", "upnl_usd"} <= set(legs.column_keys)
        assert legs.row_count == len(app.snapshot.legs) == 2
        ladders_on_main = app.query_one("#ladders").region.height > 0
        assert ladders_on_main == (height >= 34)


async def test_log_entries_that_came_while_another_view_was_up_fit_the_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries logged while the charts view hid the log were drawn at its hidden width (0):
    about 5 cells a line, for good. They are drawn at the panel's width once it shows."""
    from tui.widgets import EventLog

    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    s = load_config(ROOT / "config.toml")
    h = EngineHost.for_replay(
        s, ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz", speed=None
    )
    app = ArbConsole(h, s)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            h.start()  # flat out (speed None): every entry is logged while the log is hidden
            await eventually(pilot, lambda: h.finished, timeout=30, what="replay done")
            await eventually(
                pilot, lambda: app.snapshot.log and app.snapshot.log[-1].text == "replay finished"
            )
            await pilot.press("1")
            log = app.query_one(EventLog)
            await eventually(pilot, lambda: "replay finished" in log.lines[-1].text, what="drawn")
            width = log.scrollable_content_region.width
            assert width > 30
            texts = [line.text.rstrip() for line in log.lines]
            assert all(len(t) <= width for t in texts)
            assert sum(len(t) > width - 12 for t in texts) > len(texts) // 4  # lines use the width
    finally:
        h.stop(timeout_s=2.0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=str)
async def test_three_pairs_keep_the_drawdown_panel_and_the_log_on_screen(
    size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three pairs (30 ladder levels, 6 legs): the ladders leave the main view for view 2
    and, on a short terminal, funding and legs are capped and say how many rows are cut,
    so that the drawdown panel (net delta per pair) and the log stay on screen."""
    data = ROOT / "tests" / "data"
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    s = load_config(data / "three_pairs.toml")
    h = EngineHost.for_replay(
        s, data / "three_pairs_2024-03-01_04_partly_generated.jsonl", speed=None
    )
    h.start()
    app = ArbConsole(h, s)
    height = size[1]
    try:
        async with app.run_test(size=size) as pilot:
            await eventually(pilot, lambda: h.finished and app.snapshot.legs, timeout=30)
            await pilot.pause(0.3)
            for panel in ("#risk", "#log"):
                region = app.query_one(panel).region
                assert region.height >= 4 and region.bottom <= height - 1, (panel, region)
            assert app.query_one("#ladders").region.height == 0  # on view 2
            funding, legs = app.query_one("#funding"), app.query_one("#legs")
            if height < 34:
                assert str(funding.border_subtitle).startswith("+")
                assert "rows: a taller terminal shows them" in str(legs.border_subtitle)
            else:
                assert funding.border_subtitle == ""
            await pilot.press("2")
            assert app.query_one("#ladders-detail").region.height > 0
    finally:
        h.stop(timeout_s=2.0)
