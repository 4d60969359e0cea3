"""The venue is the truth about positions (DESIGN "The venue is the truth about positions").

A live engine hears each venue's position by REST (every ``[venues] position_check_s``, and
soon after every fill, kill, reconnect and position-stream update). :func:`compare` decides
whether that reading may be compared at all: not while an order of ours on the instrument is
in flight, nor when a fill was booked on it after the reading was asked for (the reading may
predate it). A size other than the ledger's, with nothing of ours in flight, changed outside
the engine (liquidation, auto-deleverage, a manual trade, an expired order). Then
:func:`on_mismatch`, in this order:

1. records a :class:`~core.domain.records.PositionMismatch` (audit log) and alerts;
2. books the difference into the ledger as an ``external`` fill at the instrument's mark
   (fee 0), so the ledger holds the venue's size (the price the venue used is not known
   here; the alert says so);
3. stops entries and adds (ARMED -> PAUSED);
4. follows ``[risk] position_mismatch``: ``rehedge`` trims, reduce-only, whichever leg of each
   pair holding the instrument is now the larger back to a hedge of the other (a leg gone to
   0 closes the pair); ``flatten`` closes every leg reduce-only (REDUCING).

Every order it sends can only reduce exposure, so none waits on the audit log.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from core.domain.contracts import ZERO, btc_delta, floor_to_lot, qty_for_btc
from core.domain.market import mark_decimal
from core.domain.orders import Fill, Side
from core.domain.records import PositionMismatch
from core.domain.risk import TradingState

if TYPE_CHECKING:
    from core.domain.ledger import Key
    from core.engine.engine import Engine


def in_flight(engine: Engine, key: Key) -> bool:
    """True while an order of ours on ``key`` has no final status yet."""
    return any((i.venue, i.symbol) == key for i, _ in engine.live_orders.values())


def fills_on(engine: Engine, key: Key) -> int:
    """How many fills the ledger has booked on ``key`` (a reading taken before a later fill
    may not be compared)."""
    return engine.fill_counts.get(key, 0)


def compare(engine: Engine, key: Key, venue_qty: Decimal, source: str, fills_before: int) -> str:
    """Compare the venue's ``venue_qty`` on ``key`` with the ledger. Returns ``"match"``,
    ``"mismatch"`` (acted on, see the module docstring), ``"busy"`` (an order in flight or a
    fill booked since ``fills_before``: read again later), ``"unknown"`` (a doubted
    position: handed to :meth:`Engine.resolve_position`) or ``"review"`` (a restart review
    is pending or the operator left the venues' positions alone: not compared)."""
    if key not in engine.specs:
        return "match"
    if engine.restart_review is not None or engine.restart_left:
        return "review"  # what the venues hold is the operator's question (restart review)
    if key in engine.unknown_positions:
        engine.resolve_position(key, venue_qty)
        return "unknown"
    if in_flight(engine, key) or fills_on(engine, key) != fills_before:
        return "busy"
    ledger_qty = engine.ledger.position(*key).qty
    if venue_qty == ledger_qty:
        return "match"
    on_mismatch(engine, key, ledger_qty, venue_qty, source)
    return "mismatch"


def on_mismatch(
    engine: Engine, key: Key, ledger_qty: Decimal, venue_qty: Decimal, source: str
) -> None:
    """Act on a venue size other than the ledger's (module docstring, steps 1-4)."""
    policy = engine.settings.risk.position_mismatch
    venue, symbol = key
    engine.record(
        PositionMismatch(engine.now, venue, symbol, ledger_qty, venue_qty, source, policy)
    )
    engine.alert(
        f"POSITION MISMATCH {venue} {symbol}: the venue holds {venue_qty}, the ledger "
        f"{ledger_qty} ({source}), with no order of ours in flight: changed outside the "
        "engine (liquidation, auto-deleverage, manual trade, expired order). The ledger takes "
        f"the venue's size at the mark; entries and adds stopped; policy {policy}"
    )
    book_external(engine, key, venue_qty - ledger_qty, "external")
    if engine.state is TradingState.ARMED:
        engine.set_state(TradingState.PAUSED, f"position mismatch on {venue} {symbol}")
    if policy == "flatten":
        if engine.state not in (TradingState.HALTED, TradingState.DISARMED):
            engine.set_state(TradingState.REDUCING, f"position mismatch on {venue} {symbol}")
        engine.close_everything("unwind")
        return
    for pr in engine.pairs_of(key):
        rehedge(engine, pr.cfg.name, pr.legs())


def book_external(
    engine: Engine, key: Key, qty: Decimal, purpose: str, price: Decimal | None = None
) -> None:
    """Book ``qty`` (signed, venue unit) on ``key`` as a fill no order of ours made
    (``purpose`` ``external`` or ``adopt``; client order id ``<purpose>-<venue>``; fee 0) at
    ``price``, else the mark, else the position's entry price."""
    if qty == 0:
        return
    st = engine.market.get(*key)
    pos = engine.ledger.position(*key)
    if price is None:
        price = mark_decimal(st) if st.mark is not None else (pos.entry_price or ZERO)
    side: Side = "buy" if qty > 0 else "sell"
    fill = Fill(
        f"{purpose}-{key[0]}", engine.pair_name(key), key[0], key[1], side, abs(qty), price,
        ZERO, engine.specs[key].settle_currency, False, purpose, engine.now,
    )  # fmt: skip
    engine.book_fill(fill)


def rehedge(engine: Engine, pair: str, legs: tuple[tuple[Key, object], tuple[Key, object]]) -> None:
    """Trim, reduce-only, the larger leg of ``pair`` (by BTC delta at the marks) to a hedge
    of the other; a leg at 0 closes the other. Nothing is sent without both marks."""
    (ka, _), (kb, _) = legs
    qa, qb = engine.ledger.position(*ka).qty, engine.ledger.position(*kb).qty
    if qa == 0 or qb == 0:
        for key in (ka, kb):
            engine.close_position(key, "unwind", None)
        return
    sa, sb = engine.market.get(*ka), engine.market.get(*kb)
    if sa.mark is None or sb.mark is None:
        engine.alert(f"{pair}: no mark on both legs; re-hedge waits for prices")
        return
    pa, pb = mark_decimal(sa), mark_decimal(sb)
    da, db = btc_delta(engine.specs[ka], qa, pa), btc_delta(engine.specs[kb], qb, pb)
    if abs(da) > abs(db):
        big, big_qty, small_delta, price = ka, qa, db, pa
    else:
        big, big_qty, small_delta, price = kb, qb, da, pb
    target = qty_for_btc(engine.specs[big], -small_delta, price)  # the hedge of the other leg
    if (target > 0) != (big_qty > 0):
        target = ZERO  # both legs on one side: no hedge to keep, close the larger
    trim = floor_to_lot(engine.specs[big], abs(big_qty) - abs(target))
    if trim <= 0:
        return
    side: Side = "sell" if big_qty > 0 else "buy"
    engine.send(pair, big, side, trim, True, "unwind")
