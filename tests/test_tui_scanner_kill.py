"""The kill switch from the scanner screen: ctrl+k closes the scanner and asks on the main
screen, where the answer shows (the question was hidden behind the scanner)."""

from __future__ import annotations

from core.domain.commands import Kill
from tests.test_tui_help import StaticHost
from tests.test_tui_scanner import BTC_BN, BTC_BY, HeldFeed, result
from tui.app import ArbConsole
from tui.modals import KillBar
from tui.scanner_screen import ScannerScreen
from tui.testing import eventually


async def test_ctrl_k_on_the_scanner_asks_on_the_main_screen_and_y_kills() -> None:
    host = StaticHost("replay")
    feed = HeldFeed(result([BTC_BN, BTC_BY]))
    app = ArbConsole(host, feed.settings, scanner=lambda: feed)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.press("s")
        await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen), what="scanner")
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: not isinstance(app.screen, ScannerScreen), what="main")
        assert app.kill_asked and app.query_one(KillBar).display
        await pilot.press("y")
        await eventually(pilot, lambda: bool(host.submitted), what="Kill sent")
        assert [type(c) for c in host.submitted] == [Kill]
