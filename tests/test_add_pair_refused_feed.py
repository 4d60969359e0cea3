"""A pair added at run time whose market-data subscription the venue refuses (issue 14): in a
LIVE session on the fake venues (Bybit's public WebSocket answers ``"success": false``,
"Invalid topic: tickers.BTCUSDT", as Bybit does for a topic it does not serve), the pair is
taken out again, flat and DISARMED, with an alert naming the venue's text; the audit log has
``pair_added`` then ``pair_removed``; nothing was sent to the venues; and the refused stream
is not watched, so the venue does not go stale over it."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from core.domain import commands as cmd
from core.domain.config import load_config
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_venues import ROOT, live_settings
from tests.test_add_pair_paper import ETH_GUESS
from tests.test_restore_added_pairs import ETHX, venues  # noqa: F401 (the fixture)

REFUSAL = "Invalid topic: tickers.BTCUSDT"


def test_a_refused_subscription_takes_the_added_pair_out_again(
    venues: Any,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    _, feeds, fb, fy = venues
    base = load_config(ROOT / "configs" / "binance_bybit_inverse.toml")
    settings = live_settings(feeds.settings(base), fb, fy, timeout_ms=2000, grace_ms=500)
    feeds.bybit.topics.pop("tickers.BTCUSDT")  # the venue refuses this topic from now on
    session = build_paper_session(settings, mode="live")
    host, eng = session.host, session.engine
    host.start()
    try:
        ready = lambda: any("live execution ready" in e.text for e in host.snapshot().log)  # noqa: E731
        eventually(ready, 15)
        host.submit(
            cmd.AddPair(
                pair=ETHX,
                spec_a=ETH_GUESS,
                spec_b=settings.instruments["bybit_btcusdt"],
                source="test",
            )
        )
        said = lambda: [e.text for e in host.snapshot().log if "taking it out" in e.text]  # noqa: E731
        eventually(said, 15)
        time.sleep(2 * feeds.feeds().stale_after_s)  # the new streams' grace is over
        snap = host.snapshot()
        stale = session.board.stale_venues()
    finally:
        host.stop()
    alerts = [e.text for e in snap.log if e.kind == "alert"]
    assert (
        "add pair ETHX: feed subscription failed (bybit refused the subscription "
        f"(tickers.BTCUSDT: {REFUSAL})): taking it out again"
    ) in alerts
    assert f"bybit linear subscribe: {REFUSAL}" in alerts  # the feed's own line
    assert [p.name for p in snap.pairs] == ["BTC"]
    assert [pr.cfg.name for pr in eng.pairs] == ["BTC"]
    assert eng.ledger.position("binance", "ETHUSDT").qty == 0
    assert eng.ledger.position("bybit", "BTCUSDT").qty == 0
    log = [e.text for e in snap.log]
    assert "add pair ETHX: binance ETHUSDT subscribed" in log  # before Bybit refused
    assert not [t for t in log if t.startswith("add pair ETHX: bybit")]
    # nothing went to the venues: no order, no cancel
    assert not fb.requests("POST", "/fapi/v1/order")
    assert not fy.requests("POST", "/v5/order/create")
    assert not fy.requests("POST", "/v5/order/cancel-all")
    # the refused stream is not watched: no stale venue, no stale alert over it
    assert stale == set()
    assert ("bybit", "tickers.BTCUSDT") not in session.board.streams
    first = next(i for i, t in enumerate(log) if t.startswith("add pair ETHX"))
    assert not [t for t in log[first:] if "stale" in t]  # start-up's before it: both venues
    with sqlite3.connect(tmp_path / "state" / "audit-live.db") as db:
        rows = db.execute(
            "SELECT kind, payload FROM audit WHERE kind LIKE 'pair_%' ORDER BY seq"
        ).fetchall()
    assert [k for k, _ in rows] == ["pair_added", "pair_removed"]
    added, removed = (json.loads(p) for _, p in rows)
    assert (added["pair"], added["armed"]) == ("ETHX", False)
    assert [leg["symbol"] for leg in added["legs"]] == ["ETHUSDT", "BTCUSDT"]
    assert removed["pair"] == "ETHX"
