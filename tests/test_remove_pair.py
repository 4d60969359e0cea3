"""Removing a pair from the session (issue 14, ``RemovePair``): refused with a position on a
leg (flatten first) or an order of its own in flight, accepted once flat; the ``pair_removed``
row reaches the audit log; the removed pair no longer trades nor is priced, and the same pair
may be added again."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from core.domain import commands as cmd
from core.domain.records import PairRemoved
from core.domain.risk import TradingState
from core.engine.engine import Engine
from tests.fakes import DeferredRouter
from tests.observers import observed
from tests.test_add_pair import Rows, add_eth, alerts, bar, eager, eth_fills, prices

D = Decimal


def armed_eth(eng: Engine) -> None:
    """ETH added, armed, the engine ARMED: the next prices open it."""
    eng.session_venues = frozenset({"binance", "bybit"})
    prices(eng, 1)
    eng.handle(add_eth())
    eng.handle(cmd.ArmPair(pair="ETH", source="test"))
    eng.handle(cmd.Arm(source="test"))


def test_removing_is_refused_with_a_position_and_accepted_once_flat() -> None:
    eng = Engine(eager(), mode="paper")
    rows = Rows()
    eng.recorders.append(rows)
    armed_eth(eng)
    prices(eng, 2)
    both = [bar("binance", "ETHUSDT", "2024-01-01T00:02:30", 2_500.0),
            bar("bybit", "ETHUSDT", "2024-01-01T00:02:30", 2_501.0)]  # fmt: skip
    eng.on_instant(both)  # both legs in one instant (the engine keeps that set's pairs)
    eth = eng.pairs[-1]
    assert eth.status == "open"
    held = eng.ledger.position("binance", "ETHUSDT").qty
    assert held != 0
    eng.handle(cmd.RemovePair(pair="ETH", source="test"))
    assert alerts(eng)[-1] == (
        f"remove pair ETH: refused: binance ETHUSDT holds {held}: flatten first"
    )
    assert [p.cfg.name for p in eng.pairs] == ["BTC", "ETH"]
    assert not any(isinstance(r, PairRemoved) for r in rows.rows)

    eng.handle(cmd.Flatten(source="test"))  # the paper venue fills the closes at once
    assert eng.ledger.position("binance", "ETHUSDT").qty == 0
    assert eng.ledger.position("bybit", "ETHUSDT").qty == 0
    eng.handle(cmd.RemovePair(pair="ETH", source="test"))
    assert [p.cfg.name for p in eng.pairs] == ["BTC"]
    assert [p.name for p in eng.settings.pairs] == ["BTC"]
    assert ("binance", "ETHUSDT") not in eng.traded_keys()
    assert eng.pairs_of(("bybit", "ETHUSDT")) == ()
    removed = [r for r in rows.rows if isinstance(r, PairRemoved)]
    assert [(r.pair, r.legs) for r in removed] == [
        ("ETH", [{"venue": v, "symbol": "ETHUSDT"} for v in ("binance", "bybit")])
    ]
    assert [e.text for e in eng.log if e.kind == "state"][-1] == (
        "remove pair ETH: removed (binance ETHUSDT / bybit ETHUSDT); their feeds stay "
        "subscribed (market data only, nothing trades them)"
    )
    # its prices still arrive: nothing trades them, the BTC pair goes on; also when both
    # legs move in one instant (a replay minute: the engine keeps the pairs of each set of
    # instruments moved together, which must forget the removed pair)
    trades = len(eth_fills(eng))
    eng.handle(cmd.Arm(source="test"))
    for minute in (3, 4, 5):
        prices(eng, minute)
        at = f"2024-01-01T00:{minute:02d}:30"
        eng.on_instant(
            [bar("binance", "ETHUSDT", at, 2_500.0), bar("bybit", "ETHUSDT", at, 2_501.0)]
        )
    assert len(eth_fills(eng)) == trades
    # and the same pair may come back (flat ledger entries are reused)
    eng.handle(add_eth())
    assert [p.cfg.name for p in eng.pairs] == ["BTC", "ETH"]
    assert not eng.pairs[-1].armed


def test_removing_waits_for_an_order_in_flight_and_names_unknown_pairs() -> None:
    eng = Engine(eager(), mode="live")
    router = DeferredRouter()
    router.engine = eng
    eng.connect_router(router, None)
    eng.session_venues = frozenset({"binance", "bybit"})
    prices(eng, 1)
    eng.handle(add_eth())
    eth = eng.pairs[-1]
    eng.handle(cmd.ArmPair(pair="ETH", source="test"))
    eng.set_state(TradingState.ARMED, "test")
    eng.drive(eth, eth.enter(1))  # the first leg's entry waits on the router
    (cid,) = [c for c, (i, _) in eng.live_orders.items() if i.symbol == "ETHUSDT"]
    eng.handle(cmd.RemovePair(pair="ETH", source="test"))
    assert alerts(eng)[-1] == (
        f"remove pair ETH: refused: order(s) in flight: {cid}; wait for them to end"
    )
    eng.handle(cmd.RemovePair(pair="SOL", source="test"))
    assert alerts(eng)[-1] == "remove pair SOL: refused: no such pair in this session"
    alone = Engine(eager(), mode="paper")
    alone.handle(cmd.RemovePair(pair="BTC", source="test"))
    assert alerts(alone)[-1] == (
        "remove pair BTC: refused: it is the session's only pair (quit to stop trading it)"
    )
    assert [p.cfg.name for p in eng.pairs] == ["BTC", "ETH"]


def test_the_pair_removed_row_is_in_the_audit_log(tmp_path: Path) -> None:
    from core.runtime.wiring import attach_observers

    eng = Engine(observed(eager(), tmp_path), mode="paper")
    obs = attach_observers(eng, run_id="paper-remove")
    eng.session_venues = frozenset({"binance", "bybit"})
    prices(eng, 1)
    eng.handle(add_eth())
    eng.handle(cmd.RemovePair(pair="ETH", source="test"))
    for close in obs.closers:
        close()
    db = sqlite3.connect(tmp_path / "audit.db")
    try:
        kinds = [
            k
            for (k,) in db.execute(
                "SELECT kind FROM audit WHERE kind LIKE 'pair_%' ORDER BY seq"
            ).fetchall()
        ]
        payload = db.execute("SELECT payload FROM audit WHERE kind = 'pair_removed'").fetchone()
    finally:
        db.close()
    assert kinds == ["pair_added", "pair_removed"]
    assert '"pair":"ETH"' in payload[0]
    assert '"symbol":"ETHUSDT"' in payload[0]
