"""The feeds panel's lines say which stream is stale and for how long."""

from __future__ import annotations

from core.snapshot import FeedView
from tui.widgets.feeds import feed_line


def test_a_stale_stream_line_names_it_and_shows_how_long() -> None:
    line = feed_line(FeedView("bitmex", "quote:XBTUSD", "stale", 6_240, 1_204, 2)).plain
    assert line.startswith("bitmex  quote:XBTUSD")
    assert "STALE 6.2s" in line and "1,204 msg" in line and "2 reconn" in line


def test_a_live_stream_line_shows_no_silence() -> None:
    line = feed_line(FeedView("binance", "btcusdt@bookTicker", "live", 0, 10, 0)).plain
    assert "LIVE " in line and "s " not in line.split("LIVE")[1][:3]
