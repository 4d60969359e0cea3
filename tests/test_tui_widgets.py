"""Panels in isolation: row building from hand-made snapshot views, the keyed table's
update-by-row-key, and the log's append-only behaviour. (Hotkeys and whole screens are tested
against the real engine host in test_tui_hotkeys.py and test_tui_snapshots.py.)"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import App, ComposeResult

from core.domain.snapshot import EngineSnapshot, FeedView, LogEntry, PairView, RiskView
from tui.testing import eventually
from tui.widgets import EventLog, KeyedTable
from tui.widgets.funding import flat_status, pair_row
from tui.widgets.log import MAX_LINES
from tui.widgets.risk import risk_text
from tui.widgets.status import status_text
from tui.widgets.table import ColumnSpec, right


def pair(status: str, unhedged_btc: float = 0.0) -> PairView:
    return PairView(
        "BTC", "bitmex", "binance", 0.0004, 3.5, 0.0004, 0.0003, -0.5, 1.2, 10, status,
        unhedged_btc,
    )  # fmt: skip


def snapshot(*, pairs: tuple[PairView, ...] = (), log: tuple[LogEntry, ...] = ()) -> EngineSnapshot:
    risk = RiskView("ARMED", 100_000.0, 100_000.0, 0.0, 0.0, 10.0, 0.0, 0.1, False)
    return EngineSnapshot(1584079200000, "replay", (), pairs, (), (), risk, (), log, None, 0, False)


def test_a_pair_in_leg_risk_is_red_and_shows_its_unhedged_size() -> None:
    _key, cells = pair_row(pair("leg-risk", 0.25))
    status = cells[-1]
    assert isinstance(status, Text)
    assert status.plain == "LEG-RISK +0.2500 BTC"
    assert "red" in str(status.style)
    assert "red" in str(cells[0].style)  # the pair's name too


def test_an_open_pair_is_not_red() -> None:
    _key, cells = pair_row(pair("open"))
    assert cells[-1].plain == "open"
    assert "red" not in str(cells[-1].style)


def test_status_line_flags_leg_risk_with_the_unhedged_size() -> None:
    line = status_text(snapshot(pairs=(pair("leg-risk", -0.4),)))
    assert "LEG-RISK BTC -0.4000 BTC" in line.plain
    assert "ARMED" in line.plain


COLUMNS = (ColumnSpec("name", "Name", 6), ColumnSpec("value", "Value", 6))


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS)
        yield EventLog()


async def test_keyed_table_updates_cells_removes_and_adds_rows_by_key() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(KeyedTable)
        table.sync([("a", ("a", "1")), ("b", ("b", "2")), ("c", ("c", "3"))])
        await pilot.pause()
        assert table.row_keys == ["a", "b", "c"]

        table.sync([("a", ("a", "1")), ("b", ("b", "20"))])  # update b, remove c
        table.sync([("b", ("b", "21")), ("d", ("d", "4"))])  # update b then drop a, add d
        await pilot.pause()
        assert table.row_keys == ["b", "d"]
        assert table.row_count == 2
        assert table.cell_text("b", "value") == "21"
        assert table.cell_text("d", "value") == "4"

        table.sync([("b", ("b", "21")), ("x", ("x", "9")), ("d", ("d", "4"))])  # insert inside
        await pilot.pause()
        assert table.row_keys == ["b", "x", "d"]
        assert drawn(table) == [
            " Name    Value",
            " b       21",
            " x       9",
            " d       4",
        ]
        # fixed widths: content never widens a column; a long value is cut with an ellipsis
        table.sync([("b", ("b", "a very long value")), ("d", ("d", right("4")))])
        await pilot.pause()
        assert drawn(table) == [" Name    Value", " b       a ver…", " d            4"]
        assert table.size.height == 3


def drawn(table: KeyedTable) -> list[str]:
    """The table's lines as drawn (text only, trailing blanks cut)."""
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_event_log_appends_only_entries_with_a_new_seq() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        log = app.query_one(EventLog)
        first = tuple(LogEntry(i, 1584079200000, "fill", f"fill {i}") for i in range(3))
        log.apply(snapshot(log=first))
        log.apply(snapshot(log=first))  # same entries again: nothing added
        more = (*first[1:], LogEntry(3, 1584079260000, "state", "ARMED -> PAUSED"))
        log.apply(snapshot(log=more))
        await eventually(pilot, lambda: len(log.lines) == 4)
        assert log.last_seq == 3
        assert [line.text.split(maxsplit=3)[-1].rstrip() for line in log.lines] == [
            "fill 0", "fill 1", "fill 2", "ARMED -> PAUSED",
        ]  # fmt: skip


class NarrowLogApp(App[None]):
    CSS = "EventLog { width: 40; height: 20; }"

    def compose(self) -> ComposeResult:
        yield EventLog()


async def test_a_long_alert_wraps_under_its_text_with_seconds_and_red() -> None:
    """No alert is cut at the panel's edge: it wraps, indented under its text; the time has
    seconds (UTC; a log under 60 cells leaves out the date) and the alert is red."""
    text = "position mismatch on bybit BTCUSDT: engine -0.098, venue -0.090; trading paused"
    app = NarrowLogApp()
    async with app.run_test(size=(60, 24)) as pilot:
        log = app.query_one(EventLog)
        log.apply(snapshot(log=(LogEntry(1, 1584079205000, "alert", text),)))
        await eventually(pilot, lambda: len(log.lines) > 1, what="wrapped")
        lines = [strip.text.rstrip() for strip in log.lines]
        assert lines[0].startswith("06:00:05 ALERT ")  # narrow: the date is on the status line
        assert all(len(line) <= 40 for line in lines)
        indent = len("06:00:05 ALERT ")
        assert all(line[:indent].strip() == "" for line in lines[1:])  # hanging indent
        assert " ".join(line[indent:].strip() for line in lines) == text
        styles = [str(seg.style) for strip in log.lines for seg in strip if seg.text.strip()]
        assert any("red" in s for s in styles)


async def test_event_log_keeps_at_most_max_lines() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        log = app.query_one(EventLog)
        entries = tuple(
            LogEntry(i, 1584079200000, "funding", f"payment {i}") for i in range(MAX_LINES + 50)
        )
        log.apply(snapshot(log=entries))
        await eventually(pilot, lambda: log.last_seq == len(entries) - 1)
        await pilot.pause()
        assert len(log.entries) == MAX_LINES
        assert log.entries[0].seq == len(entries) - MAX_LINES
        assert log.lines[-1].text.rstrip().endswith(f"payment {len(entries) - 1}")


def test_feeds_that_are_not_live_are_listed_with_their_silence() -> None:
    feeds = (
        FeedView("binance", "markPrice", "live", 0, 120, 0),
        FeedView("bitmex", "instrument", "stale", 12_500, 40, 1),
    )
    text = risk_text(snapshot().risk, feeds).plain
    assert "feeds 1/2 live" in text
    assert "bitmex instrument stale 12s" in text
    assert "binance markPrice" not in text


def test_a_flat_pair_that_would_enter_says_the_state_that_stops_it() -> None:
    due = replace(pair("flat"), edge_pct=1.41, entry_edge_pct=0.2, observations_left=3)
    assert flat_status(due) == "entry in 3 obs"
    assert flat_status(due, "HALTED") == "halted: no entry"
    assert flat_status(due, "DISARMED") == "disarmed: no entry"
    short = replace(due, edge_pct=0.1)
    assert flat_status(short, "HALTED") == "need +0.10%, 3 obs"  # the distance stays


def test_a_replays_data_row_says_recorded_never_live() -> None:
    risk = RiskView("ARMED", 100_000.0, 100_000.0, 0.0, 0.0, 10.0, 0.0, 0.1, False)
    assert "Data     live" in risk_text(risk).plain  # paper and live
    assert "Data     recorded" in risk_text(risk, recorded="recorded").plain
    assert "STOPPED" in risk_text(risk, stopped=True, recorded="recorded").plain


def test_before_any_price_the_peak_says_so_not_zero() -> None:
    risk = RiskView("DISARMED", 200_000.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.1, False)
    assert "peak —" in risk_text(risk).plain
    assert "peak 0.00" not in risk_text(risk).plain
    valued = replace(risk, peak_equity_usd=200_399.83)
    assert "peak 200,399.83" in risk_text(valued).plain
