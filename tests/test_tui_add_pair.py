"""The scanner's ``a`` (issue 14 item 3), with Pilot, through the real engine host: a
confirmation naming both legs, then the pair on the main screen's funding panel as DISARMED,
armed from the palette (``Arm pair NAME``) and removed from it (``Remove pair NAME``); in a
replay the engine's refusal shows on the scanner screen. The ranking is the fixed universe
of tests/test_scan_ranking.py."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot

from core.domain.commands import AddPair, ArmPair, RemovePair
from core.domain.config import load_config
from core.engine.engine import Engine
from tests.conftest import ROOT
from tests.test_scan_ranking import BTC_BN, BTC_BY, ETH_BN, ETH_BY, SOL_BN, SOL_BY
from tests.test_tui_scanner import ETH, HeldFeed, result
from tui.app import ArbConsole
from tui.help import keys_for
from tui.modals import ConfirmModal
from tui.scan_table import ScanTable
from tui.scanner_screen import ScannerScreen
from tui.testing import RecordingHost, eventually
from tui.widgets import FundingPanel


async def open_scanner_on_eth(app: ArbConsole, pilot: Pilot[Any]) -> ScannerScreen:
    """``s``, then the cursor on the ETH row (second by net carry)."""
    await eventually(pilot, lambda: app.snapshot is not None)
    await pilot.press("s")
    await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
    screen = app.screen
    assert isinstance(screen, ScannerScreen)
    await eventually(pilot, lambda: screen.applied >= 1)
    assert list(screen.query_one("#scan-table", ScanTable).order)[1] == ETH
    await pilot.press("down")
    selected = screen.selected()
    assert selected is not None and selected.asset == "ETH"
    return screen


def scanner_app(mode: str) -> tuple[RecordingHost, ArbConsole]:
    """A started host of ``mode`` on the shipped config, and its console whose scanner holds
    the fixed scan (BTC, SOL, ETH on both venues)."""
    settings = load_config(ROOT / "config.toml")
    host = RecordingHost(Engine(settings, mode=mode))
    feed = HeldFeed(result([BTC_BY, SOL_BY, ETH_BY, BTC_BN, SOL_BN, ETH_BN]))
    app = ArbConsole(host, settings, scanner=lambda: feed)
    host.start()
    return host, app


async def test_a_adds_the_selected_pair_disarmed_and_the_palette_arms_it() -> None:
    host, app = scanner_app("paper")
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            screen = await open_scanner_on_eth(app, pilot)
            await pilot.press("a")
            await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal))
            modal = app.screen
            assert isinstance(modal, ConfirmModal)
            assert modal._title == "Add pair ETH-binance-bybit to this session?"
            assert modal._message.startswith(
                "Legs: short binance ETHUSDT (linear, 4 h) and long bybit ETHUSDT (linear, 8 h)."
            )
            await pilot.press("y")
            await eventually(pilot, lambda: bool(host.commands_of(AddPair)), what="AddPair sent")
            (_, sent), *_ = host.commands_of(AddPair)
            assert isinstance(sent, AddPair)
            assert (sent.spec_a.venue, sent.spec_a.symbol, sent.spec_b.venue) == (
                "binance",
                "ETHUSDT",
                "bybit",
            )
            await eventually(
                pilot, lambda: screen.last_message.startswith("add pair ETH-binance-bybit: added"),
                what="the engine's answer on the scanner screen",
            )  # fmt: skip
            await pilot.press("escape")
            await eventually(pilot, lambda: not isinstance(app.screen, ScannerScreen))
            table = app.query_one(FundingPanel).query_one("#funding-pairs")
            await eventually(pilot, lambda: table.row_count == 2, what="the new pair's row")
            assert str(table.get_row("ETH-binance-bybit")[-1]).startswith("DISARMED")
            assert str(table.get_row("BTC")[-1]) != "DISARMED"
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Arm pair ETH-binance-bybit" in titles and "Arm pair BTC" not in titles
            await pilot.press("ctrl+p")
            await eventually(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
            await pilot.press(*"arm pair eth")
            await pilot.pause(0.3)  # the palette searches on a worker
            await pilot.press("enter")
            await eventually(pilot, lambda: bool(host.commands_of(ArmPair)), what="ArmPair")
            await eventually(
                pilot,
                lambda: not str(table.get_row("ETH-binance-bybit")[-1]).startswith("DISARMED"),
                what="the pair armed",
            )
            assert host.engine.pairs[-1].armed
            # the palette removes it (flat: nothing traded here), and the row goes
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Remove pair ETH-binance-bybit" in titles and "Remove pair BTC" in titles
            await pilot.press("ctrl+p")
            await eventually(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
            await pilot.press(*"remove pair eth")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await eventually(pilot, lambda: bool(host.commands_of(RemovePair)), what="RemovePair")
            await eventually(pilot, lambda: table.row_count == 1, what="the pair's row gone")
            assert [p.cfg.name for p in host.engine.pairs] == ["BTC"]
    finally:
        host.stop()


async def test_in_a_replay_the_refusal_shows_on_the_scanner_screen() -> None:
    host, app = scanner_app("replay")
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            screen = await open_scanner_on_eth(app, pilot)
            await pilot.press("a")
            await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await pilot.press("y")
            await eventually(
                pilot, lambda: "refused" in screen.last_message, what="the refusal shown"
            )
            assert screen.last_message.startswith(
                "add pair ETH-binance-bybit: refused: a replay has no data for an instrument"
            )
            assert isinstance(app.screen, ScannerScreen)
            assert len(host.engine.pairs) == 1
    finally:
        host.stop()


def test_help_and_scanner_footer_list_the_key() -> None:
    scanner = next(k for k in keys_for("paper") if k.key == "s")
    assert "a adds a pair DISARMED (ctrl+p Arm pair)" in scanner.does
    bindings = {b.key: b.description for b in ScannerScreen.BINDINGS if isinstance(b, Binding)}
    assert bindings["a"] == "Add to session"
