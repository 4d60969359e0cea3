"""The scanner screen as an operator meets it at a bad moment: ctrl+k closes the scanner and
asks on the main screen, where the answer shows (the question was hidden behind the scanner);
venues that could not be read are said as such, not as "no pair matches"."""

from __future__ import annotations

from textual.widgets import Static

from core.domain.commands import Kill
from core.runtime.scanner import ScanResult
from tests.test_tui_help import StaticHost
from tests.test_tui_scanner import BTC_BN, BTC_BY, NOW, HeldFeed, Holder, result
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


async def test_venues_that_could_not_be_read_are_said_not_no_match() -> None:
    down = {
        "binance": "ExchangeNotAvailable: binanceusdm GET http://127.0.0.1:9/fapi/v1/premiumIndex",
        "bybit": "RequestTimeout: bybit GET http://127.0.0.1:9/v5/market/tickers",
    }
    feed = HeldFeed(ScanResult([], {}, 0, down, NOW, 1.0))
    app = Holder(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, ScannerScreen))
        screen = app.screen
        await eventually(pilot, lambda: screen.applied >= 1, what="applied")
        detail = str(screen.query_one("#scan-detail", Static).render())
        assert detail.startswith(
            "no pair: binance not read (ExchangeNotAvailable: binanceusdm GET "
            "http://127.0.0.1:9/fapi/v1/premiumIndex); bybit not read (RequestTimeout:"
        )
        assert "no pair matches the filters" not in detail
