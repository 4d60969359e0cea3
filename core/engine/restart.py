"""Restart with positions open (DESIGN "Restart"): what the last run left, compared with what
the venues hold, and the engine's adoption of it.

First, the pairs the operator added at run time come back (:func:`added_pairs`: the newest
run's ``pair_added`` rows not followed by a ``pair_removed`` row, with their recorded specs
and settings), so that a position on such a pair's leg is that pair's, not a mismatch. They
come back DISARMED, armed before or not (a desk reviews a restarted book before an added
pair trades again; the alert says it was armed): :func:`core.runtime.restart.restore_added_pairs`.

The last run's state is rebuilt from its audit rows (:func:`rebuild`): its ``fill`` rows go
through a scratch :class:`~core.domain.ledger.Ledger` (the same arithmetic as the run's
own), and each pair's ladder is followed from them: an ``entry`` fill on a flat pair starts a
new position (level 0 anchored at the leg's average entry price), each ``ladder`` order that
filled is one more level, a pair whose legs are both flat again is closed. A ``pair_adopted``
row (written by a run that adopted positions at its own start) restores a pair as it was then.

:func:`plan` compares that with the venues' positions and open orders at start-up:

- a pair whose legs the venues hold exactly as the last run left them is **adopted**
  (:func:`adopt`): the ledger gets each leg at the last run's entry price (an ``adopt`` fill,
  fee 0: realised PnL and fees of earlier runs stay in their audit rows), the pair is open in
  its direction with the ladder levels filled so far, and a ``pair_adopted`` row records it;
- anything else (one leg only, sizes that disagree with the audit log, a position of no
  configured pair, any open order) is **for the operator**, who chooses ``adopt`` (book the
  venue's sizes at the mark, cancel the unknown open orders, stay DISARMED), ``flatten``
  (book them, cancel the orders, close everything reduce-only) or ``leave`` (touch nothing;
  HALTED for the session). Nothing trades until that is settled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from core.domain.config import PairSettings, Settings
from core.domain.contracts import ZERO, notional_usd
from core.domain.events import InstrumentSpec
from core.domain.ladder import Ladder
from core.domain.ledger import Key, Ledger
from core.domain.orders import Fill, Side
from core.engine.reconcile import book_external

if TYPE_CHECKING:
    from core.engine.engine import Engine


@dataclass(slots=True)
class LegAtRestart:
    """One leg as the last run left it: ``qty`` signed (venue unit), ``entry_price`` its
    average entry, ``anchor`` level 0's fill price (the ladder's triggers hang on it), and
    ``levels_filled`` the ladder levels above 0 that filled."""

    qty: Decimal
    entry_price: Decimal | None
    anchor: Decimal | None = None
    levels_filled: int = 0


@dataclass(slots=True)
class PairAtRestart:
    """One pair as the last run left it (``direction`` +1 short leg a / long leg b, -1 the
    other way, 0 flat)."""

    pair: str
    direction: int = 0
    opened_ts_ms: int | None = None
    legs: dict[Key, LegAtRestart] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The ``pair_adopted`` row's payload (Decimals as strings)."""
        return {
            "pair": self.pair,
            "direction": self.direction,
            "opened_ts_ms": self.opened_ts_ms,
            "legs": [
                {
                    "venue": k[0],
                    "symbol": k[1],
                    "qty": str(leg.qty),
                    "entry_price": None if leg.entry_price is None else str(leg.entry_price),
                    "anchor": None if leg.anchor is None else str(leg.anchor),
                    "levels_filled": leg.levels_filled,
                }
                for k, leg in self.legs.items()
            ],
        }


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def rebuild(
    rows: Iterable[tuple[str, Mapping[str, Any]]], settings: Settings
) -> dict[str, PairAtRestart]:
    """Every configured pair's state at the end of a run, from that run's audit rows in order
    (``(kind, payload)``; kinds other than ``fill`` and ``pair_adopted`` are skipped)."""
    specs = {(s.venue, s.symbol): s for s in settings.instruments.values()}
    ledger = Ledger({k: s for k, s in specs.items()}, {})
    pairs: dict[str, PairAtRestart] = {}
    legs_of: dict[str, tuple[Key, Key]] = {}
    for p in settings.pairs:
        a, b = settings.instruments[p.leg_a], settings.instruments[p.leg_b]
        legs_of[p.name] = ((a.venue, a.symbol), (b.venue, b.symbol))
        pairs[p.name] = PairAtRestart(p.name)
    ladder_orders: dict[Key, set[str]] = {}
    for kind, pay in rows:
        if kind == "pair_adopted":
            pay = pay.get("state") or pay
            st = pairs.get(str(pay.get("pair")))
            if st is None:
                continue
            st.direction, st.opened_ts_ms = int(pay.get("direction") or 0), pay.get("opened_ts_ms")
            st.legs = {}
            for leg in pay.get("legs") or []:
                key = (str(leg["venue"]), str(leg["symbol"]))
                st.legs[key] = LegAtRestart(
                    Decimal(str(leg["qty"])), _dec(leg.get("entry_price")),
                    _dec(leg.get("anchor")), int(leg.get("levels_filled") or 0),
                )  # fmt: skip
            continue
        if kind != "fill":
            continue
        key = (str(pay["venue"]), str(pay["symbol"]))
        if key not in specs:
            continue
        side: Side = "buy" if pay["side"] == "buy" else "sell"
        fill = Fill(
            str(pay["client_order_id"]), str(pay.get("pair", "")), key[0], key[1], side,
            Decimal(str(pay["qty"])), Decimal(str(pay["price"])), Decimal(str(pay["fee"])),
            str(pay["fee_currency"]), bool(pay["reduce_only"]), str(pay["purpose"]),
            int(pay["ts_ms"]),
        )  # fmt: skip
        ledger.apply_fill(fill, Decimal(1))
        for name, (ka, kb) in legs_of.items():
            if key not in (ka, kb):
                continue
            st = pairs[name]
            pos = ledger.position(*key)
            leg = st.legs.setdefault(key, LegAtRestart(ZERO, None))
            leg.qty, leg.entry_price = pos.qty, pos.entry_price
            if fill.purpose == "entry":
                if st.direction == 0:
                    st.direction = 1 if (key == ka) == (fill.side == "sell") else -1
                    st.opened_ts_ms = fill.ts_ms
                    ladder_orders[ka], ladder_orders[kb] = set(), set()
                leg.anchor = pos.entry_price
            elif fill.purpose == "ladder":
                seen = ladder_orders.setdefault(key, set())
                if fill.client_order_id not in seen:  # one level per order, however filled
                    seen.add(fill.client_order_id)
                    leg.levels_filled += 1
            if ledger.position(*ka).qty == 0 and ledger.position(*kb).qty == 0:
                pairs[name] = PairAtRestart(name)
    return pairs


@dataclass(slots=True)
class RestartPlan:
    """What start-up found: pairs to adopt as they are, and lines for the operator (empty:
    nothing to ask). ``held`` the venues' positions, ``orders`` the open orders' client ids
    per instrument."""

    adopt: list[PairAtRestart]
    questions: list[str]
    held: dict[Key, Decimal]
    orders: dict[Key, list[str]]


def plan(
    held: Mapping[Key, Decimal],
    orders: Mapping[Key, list[str]],
    last: Mapping[str, PairAtRestart],
    settings: Settings,
) -> RestartPlan:
    """Compare the venues' positions ``held`` and open ``orders`` with the last run's pairs
    (module docstring)."""
    adopt: list[PairAtRestart] = []
    questions: list[str] = []
    explained: set[Key] = set()
    for p in settings.pairs:
        a, b = settings.instruments[p.leg_a], settings.instruments[p.leg_b]
        keys = ((a.venue, a.symbol), (b.venue, b.symbol))
        st = last.get(p.name)
        venue = {k: held.get(k, ZERO) for k in keys}
        if all(v == 0 for v in venue.values()):
            continue  # nothing held: nothing to adopt or ask about
        if (
            st is not None
            and st.direction != 0
            and all(k in st.legs and st.legs[k].qty == venue[k] for k in keys)
        ):
            adopt.append(st)
            explained.update(keys)
            continue
        logged = {k: (st.legs[k].qty if st is not None and k in st.legs else ZERO) for k in keys}
        parts = ", ".join(f"{k[0]} {k[1]} holds {venue[k]} (audit log {logged[k]})" for k in keys)
        why = "one leg only" if any(v == 0 for v in venue.values()) else "sizes disagree"
        questions.append(f"pair {p.name}: {parts}: {why}")
        explained.update(keys)
    for key, qty in held.items():
        if qty != 0 and key not in explained:
            questions.append(f"{key[0]} {key[1]} holds {qty}: no configured pair trades it")
    for key, cids in orders.items():
        if cids:
            questions.append(
                f"{key[0]} {key[1]}: {len(cids)} open order(s) arbtui does not know: "
                + ", ".join(cids[:5])
                + (" ..." if len(cids) > 5 else "")
            )
    return RestartPlan(adopt, questions, dict(held), {k: list(v) for k, v in orders.items()})


def adopt(engine: Engine, st: PairAtRestart) -> None:
    """Take ``st`` over: ``adopt`` fills at the last run's entry prices, the pair open with its
    ladder levels, a ``pair_adopted`` row (module docstring)."""
    pr = next(p for p in engine.pairs if p.cfg.name == st.pair)
    for key, leg in st.legs.items():
        if leg.qty != 0:
            book_external(engine, key, leg.qty, "adopt", leg.entry_price)
    pr.status, pr.direction, pr.opened_ts_ms = "open", st.direction, st.opened_ts_ms
    pr.ladders = {}
    settings = engine.settings.ladder
    for key, leg in st.legs.items():
        if leg.qty == 0 or leg.anchor is None:
            continue
        lad = Ladder.build(*key, 1 if leg.qty > 0 else -1, settings)
        price = leg.entry_price or leg.anchor
        lad.anchor(
            float(leg.anchor), abs(leg.qty), float(notional_usd(engine.specs[key], leg.qty, price))
        )
        for lvl in lad.levels[1 : 1 + leg.levels_filled]:
            lvl.status = "filled"
        pr.ladders[key] = lad
    engine.record_adoption(st.payload())
    engine.emit(
        "state",
        f"pair {st.pair} adopted from the last run: "
        + ", ".join(f"{k[0]} {k[1]} {leg.qty} @ {leg.entry_price}" for k, leg in st.legs.items())
        + f"; ladder levels filled {[leg.levels_filled for leg in st.legs.values()]}",
    )


@dataclass(frozen=True, slots=True)
class AddedAtRestart:
    """A pair the last run added at run time and did not remove: its settings (``pair``),
    its two legs' specs as recorded, and whether it was armed when that run ended."""

    pair: PairSettings
    spec_a: InstrumentSpec
    spec_b: InstrumentSpec
    armed: bool


def added_pairs(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[AddedAtRestart]:
    """The pairs of ``rows`` (one run's ``pair_added``, ``pair_armed`` and ``pair_removed``
    rows, in order; other kinds skipped) still in the session at its end, in the order they
    were added. A row that does not convert raises :class:`ValueError` naming the pair and
    the field (msgspec's path, e.g. ``$.tick``)."""
    live: dict[str, AddedAtRestart] = {}
    for kind, pay in rows:
        name = str(pay.get("pair", ""))
        if kind == "pair_removed":
            live.pop(name, None)
        elif kind == "pair_armed" and name in live:
            live[name] = dataclasses.replace(live[name], armed=True)
        elif kind == "pair_added":
            live.pop(name, None)  # added again: the newest row holds
            live[name] = _added(name, pay)
    return list(live.values())


def _added(name: str, pay: Mapping[str, Any]) -> AddedAtRestart:
    try:
        legs = list(pay["legs"])
        specs = [
            msgspec.convert({k: v for k, v in leg.items() if k != "id"}, InstrumentSpec,
                            strict=False)
            for leg in legs
        ]  # fmt: skip
        settings = pay.get("settings") or {
            "name": name,
            "leg_a": legs[0]["id"],
            "leg_b": legs[1]["id"],
            "max_notional_usd": pay["max_notional_usd"],
        }
        pair = msgspec.convert(settings, PairSettings, strict=False)
    except (KeyError, IndexError, TypeError, msgspec.ValidationError) as exc:
        raise ValueError(f"pair_added row of pair {name!r}: {type(exc).__name__}: {exc}") from None
    if len(specs) != 2:
        raise ValueError(f"pair_added row of pair {name!r}: {len(specs)} legs, not 2")
    return AddedAtRestart(pair, specs[0], specs[1], armed=False)
