"""The book panel (issue 12 item 5 on the console): after the shipped March 2020 replay it shows
the report's own hedge turnover, fees per purpose, funding per venue, break-even days and round
trips; and in the console it sits on the second view."""

from __future__ import annotations

from pathlib import Path

from core.analysis.replay import load_replay
from core.analysis.report import build_report
from core.domain.config import load_config
from core.engine.engine import Engine
from core.engine.views import book_view, build_snapshot
from tests.conftest import HISTORY_CONFIG
from tests.test_tui_help import StaticHost
from tui.app import ArbConsole
from tui.testing import eventually
from tui.widgets.book import BookPanel, book_text

REPLAY = Path(__file__).resolve().parent.parent / "replays" / "btc_2020-03.jsonl.gz"


def replayed() -> Engine:
    eng = Engine(load_config(HISTORY_CONFIG))
    _, events = load_replay(REPLAY)
    i = 0
    while i < len(events):  # one instant at a time, as the drive hands them
        j = i + 1
        while j < len(events) and events[j].ts_ms == events[i].ts_ms:
            j += 1
        eng.on_instant(events[i:j])
        i = j
    return eng


def test_the_book_shows_what_the_report_says() -> None:
    eng = replayed()
    report = build_report(eng, 1.0)
    snap = build_snapshot(eng, None)
    book = snap.book
    purposes: dict[str, float] = {}
    for v in report["per_venue"].values():
        for purpose, fee in v["fees_by_purpose_usd"].items():
            purposes[purpose] = purposes.get(purpose, 0.0) - fee  # the report: paid < 0
    assert dict(book.fees_usd_by_purpose) == purposes
    assert sum(dict(book.funding_usd_by_venue).values()) == report["pnl_usd"]["funding"]
    assert [round(float(rt.net_usd), 2) for rt in book.round_trips] == [
        round(rt["net_usd"], 2) for rt in report["round_trips"]
    ]
    assert snap.hedges.count == report["hedge_turnover"]["count"]
    text = book_text(snap).plain
    h = report["hedge_turnover"]
    assert text.startswith(
        f"hedges {h['count']} fills, {float(h['btc']):.4f} BTC, fees {h['fees_usd']:,.2f} USD"
    )
    (rt,) = report["round_trips"]
    assert f"net {rt['net_usd']:+,.2f}" in text and f"{rt['holding_hours']:,.0f} h" in text
    assert book_view(eng)[1] is book  # nothing booked since: the same view, not rebuilt


async def test_the_book_panel_is_on_the_second_view() -> None:
    app = ArbConsole(StaticHost("replay"))
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.press("2")
        await pilot.pause()
        panel = app.query_one(BookPanel)
        assert panel.region.height > 0 and panel.border_title == "Book (USD)"
        assert "hedges 0 fills, 0.0000 BTC, fees 0.00 USD" in str(panel.render())
