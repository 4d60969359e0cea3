"""One pair of legs at run time: entry, DCA ladder adds, hedging, exit, leg-risk unwind.

Direction +1 = short leg a / long leg b (leg a's funding is higher per hour); -1 the reverse.

Orders may complete at once (paper venue) or later (live venues): every step reacts to the
:class:`~core.domain.venue.OrderUpdate` of its own order in :meth:`PairRuntime.on_update`, so the
same
code runs in replay, paper and live.

- Entry: both legs are checked before the first is sent (HAZARDS H7). The leg with the coarser
  lot goes first (its size in BTC can only be matched, not chosen freely); once it has filled,
  the other leg is sent to match its BTC delta.
- Leg risk (HAZARDS H11): if the second leg is rejected, or is not filled within
  ``risk.leg_timeout_s``, the pair is in ``leg-risk``: each open leg gets one reduce-only unwind
  in flight, retried with the same client order id until it fills; no entries, adds or exits
  meanwhile.
- One order of each kind in flight per leg: a ladder add, a hedge, a close (HAZARDS H8).

The pair reads the engine through a read-only :class:`~core.engine.actions.EngineView` and
never calls into it: its decision methods are generators of actions (orders, cancels, closes,
alerts) that the engine carries out as they are yielded (:mod:`core.engine.actions`);
:meth:`PairRuntime.on_price`, asked at nearly every instant, returns None instead of a
generator when nothing is due.
(~420 lines: entry, ladder, hedge, close and leg-risk of one pair share its state and are
kept together.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.config import PairSettings
from core.domain.contracts import (
    base_asset,
    btc_delta,
    floor_to_lot,
    notional_usd,
    qty_for_btc,
    qty_for_notional,
)
from core.domain.events import InstrumentSpec
from core.domain.ladder import Ladder, Level, level_notional_usd, vol_scale
from core.domain.ledger import Key
from core.domain.market import InstrumentState, mark_decimal
from core.domain.orders import ClientOrderIds, OrderIntent, Side
from core.domain.risk import TradingState, check_leg, gate
from core.domain.signal import PairSignal
from core.domain.venue import OrderStatus, OrderUpdate
from core.engine.actions import Actions, Alert, Cancel, ClosePosition, EngineView, Send

ZERO = Decimal(0)


@dataclass(slots=True)
class EntryPlan:
    """An entry under way: the first leg's order, the second leg's planned size and side."""

    direction: int
    first: Key
    second: Key
    first_qty: Decimal
    second_qty: Decimal
    sides: dict[Key, Side]
    first_cid: str = ""
    second_cid: str = ""
    second_sent_ts_ms: int | None = None
    fills: dict[Key, Decimal] = field(default_factory=dict)


class PairRuntime:
    """Run-time state of one configured pair inside an engine (read through ``view``;
    ``ids`` allocates its client order ids).

    ``status``: ``flat``, ``entering``, ``open``, ``closing`` or ``leg-risk``.
    """

    def __init__(
        self,
        view: EngineView,
        ids: ClientOrderIds,
        cfg: PairSettings,
        spec_a: InstrumentSpec,
        spec_b: InstrumentSpec,
    ) -> None:
        self.view = view
        self.ids = ids
        self.cfg = cfg
        self.spec_a, self.spec_b = spec_a, spec_b
        self.key_a: Key = (spec_a.venue, spec_a.symbol)
        self.key_b: Key = (spec_b.venue, spec_b.symbol)
        self.asset = base_asset(spec_a)
        """The asset the pair trades (BTC, XRP...): the unit of its net delta and band."""
        self.signal = PairSignal(view.settings.strategy, spec_a, spec_b)
        self.band, self.target, self.wide_band = cfg.band(view.settings.hedge)
        """This pair's hedge band, target and wide band, in its base asset's units
        (:meth:`core.domain.config.PairSettings.band`)."""
        self._states = (view.market.get(*self.key_a), view.market.get(*self.key_b))
        """The legs' market states (the market's own objects, kept current by it)."""
        self._fresh_ms = view.settings.hedge.fresh_price_s * 1000
        self._within_band = float(self.band) * 0.999
        """|net delta| at or below this (float) needs no hedge: the exact check is skipped."""
        self.status = "flat"
        self.direction = 0
        self.ladders: dict[Key, Ladder] = {}
        self.last_add: Key | None = None
        self.entry: EntryPlan | None = None
        self.unwind_ids: dict[Key, str] = {}
        self.adding: dict[str, tuple[Key, Level]] = {}
        self.hedge_cid: str | None = None
        self.last_hedge: tuple[int, int, Decimal] | None = None
        """The last hedge sent: (ts_ms, sign of the BTC it traded, net delta it aimed at)."""
        self.opened_ts_ms: int | None = None
        """When the open position's entry completed (the minimum holding time counts from it)."""
        self._last_refusal = ""
        self.max_abs_net_delta = ZERO
        """Beside other pairs: the largest |:meth:`net_delta`| (base asset units) left after
        an instant's decisions while the pair held anything, and when
        (``max_abs_net_delta_ts_ms``); the engine measures it (:meth:`track_net_delta`)."""
        self.max_abs_net_delta_ts_ms = 0
        self.armed = True
        """False for a pair added at run time until the operator arms it
        (:class:`~core.domain.commands.ArmPair`): it then sends no order of its own (entry,
        ladder add, hedge, exit), whatever the engine's state; the engine's own closes
        (flatten, kill) still reach its legs."""

    # ---------------------------------------------------------------- helpers
    @property
    def state(self) -> TradingState:
        """The trading state this pair acts in: the engine's, or DISARMED while the pair
        itself is not armed (:attr:`armed`)."""
        return self.view.state if self.armed else TradingState.DISARMED

    @property
    def alone(self) -> bool:
        """True when this is the engine's only pair."""
        return len(self.view.settings.pairs) == 1

    def net_delta(self) -> Decimal:
        """The delta this pair's hedger works on, in its asset's units (BTC for a BTC pair):
        alone, the whole book's (:meth:`EngineView.net_delta_btc`: IBIT shares and coin margin
        included when configured); beside other pairs, which may trade other assets, its own
        two legs' (inverse at the mark), so that no pair hedges another's asset."""
        eng = self.view
        if self.alone:
            return eng.net_delta_btc()
        total = ZERO
        for key, spec in self.legs():
            qty, st = eng.ledger.position(*key).qty, eng.market.get(*key)
            if qty != 0 and st.mark is not None:
                total += btc_delta(spec, qty, mark_decimal(st))
        return total

    def track_net_delta(self) -> None:
        """Keep the largest |net delta| (its asset's units) seen after an instant."""
        net = abs(self.net_delta())
        if net > self.max_abs_net_delta:
            self.max_abs_net_delta = net
            self.max_abs_net_delta_ts_ms = self.view.now

    def states(self) -> tuple[InstrumentState, InstrumentState]:
        """Market states of leg a and leg b."""
        return self._states

    def legs(self) -> tuple[tuple[Key, InstrumentSpec], tuple[Key, InstrumentSpec]]:
        """((key, spec) of leg a, (key, spec) of leg b)."""
        return (self.key_a, self.spec_a), (self.key_b, self.spec_b)

    def specs(self, key: Key) -> InstrumentSpec:
        """The spec of one of this pair's legs."""
        return self.spec_a if key == self.key_a else self.spec_b

    def _stale(self) -> bool:
        """True when nothing may open: a leg's venue has stale market data, or a leg is an
        instrument its venue does not trade now (HAZARDS H23)."""
        stale = self.view.stale_venues
        if stale and (self.key_a[0] in stale or self.key_b[0] in stale):
            return True
        closed = self.view.not_trading
        return bool(closed) and (self.key_a in closed or self.key_b in closed)

    def _flat(self) -> bool:
        led = self.view.ledger
        return led.position(*self.key_a).qty == 0 and led.position(*self.key_b).qty == 0

    def refresh_status(self) -> None:
        """Back to ``flat`` once both legs are flat and nothing of the pair is in flight."""
        if self.status in ("flat", "entering") or not self._flat():
            return
        if self.view.closing & {self.key_a, self.key_b}:
            return
        self.status = "flat"
        self.direction = 0
        self.entry = None
        self.unwind_ids.clear()
        self.ladders = {}  # the round trip is over: its levels (filled or not) go with it
        self.signal.entry_count = 0

    def cancel_ladders(self) -> None:
        """Cancel every pending ladder level of both legs."""
        for lad in self.ladders.values():
            lad.cancel_pending()

    def unhedged_btc(self) -> float:
        """BTC delta of the two legs together (what a leg-risk state leaves exposed)."""
        return float(self.view.leg_delta_btc(self.key_a) + self.view.leg_delta_btc(self.key_b))

    # ---------------------------------------------------------------- signal
    def observe(self) -> Actions:
        """One observation of the signal; may enter or exit."""
        a, b = self.states()
        held = self.direction if self.status == "open" else 0
        self.signal.observe(a, b, held)
        if self.status == "flat":
            d = self.signal.wants_entry()
            if d and self.state is TradingState.ARMED and not self._stale():
                yield from self.enter(d)
        elif self.status == "open" and self.opened_ts_ms is not None:
            if self.signal.wants_exit((self.view.now - self.opened_ts_ms) / 3_600_000):
                yield from self.close("exit")

    def on_price(self) -> Actions | None:
        """Per price event: leg-risk unwinds and the leg timeout, ladder adds, hedge. None when
        there is nothing to do (an open pair whose ladder and hedge both say no at once: most
        instants), so that no generator is made for it; else the actions to drive."""
        status = self.status
        if status == "open":
            ladder = self._ladder_due()
            if ladder or self._hedge_due():
                return self._open_moves(ladder)
            return None
        if status == "leg-risk":
            return self._unwind_open_legs()
        if status == "entering":
            return self._check_leg_timeout()
        return None

    def _open_moves(self, ladder: bool) -> Actions:
        """An open pair's moves at a price: ladder adds when ``ladder`` (:meth:`_ladder_due`,
        asked once by :meth:`on_price`), then the hedge (after their fills)."""
        if ladder:
            yield from self._ladder_adds()
        yield from self.hedge()

    # ----------------------------------------------------------------- entry
    def _refuse(self, why: str, same: str | None = None) -> Actions:
        """Alert that the pair was not started, once per reason (``same``: what makes two
        refusals the same one, e.g. the limit whose figures move; default ``why``)."""
        if (same or why) != self._last_refusal:
            yield Alert(f"pair {self.cfg.name} not started: {why}")
            self._last_refusal = same or why

    def leg_cap_usd(self) -> Decimal:
        """The notional cap of each leg, USD: the pair's ``max_notional_usd`` or ``[sizing]
        leg_max_notional_usd``, the smaller."""
        return min(self.cfg.max_notional_usd, self.view.settings.sizing.leg_max_notional_usd)

    def _room_usd(self, key: Key, price: Decimal) -> Decimal:
        eng = self.view
        pos = eng.ledger.position(*key)
        held = notional_usd(pos.spec, pos.qty, price)
        caps = self.leg_cap_usd() - held
        lev = Decimal(repr(eng.settings.risk.max_leverage))
        capital = (Decimal(repr(eng.equity_usd)) * lev - eng.gross_notional_usd()) / 2
        return max(ZERO, min(caps, capital))

    def _scale(self) -> float:
        look = self.view.settings.sizing.vol_lookback_hours
        vols = [v for v in (st.realised_vol(look) for st in self.states()) if v is not None]
        return vol_scale(max(vols) if vols else None, self.view.settings.sizing)

    def enter(self, direction: int) -> Actions:
        """Open both legs at ladder level 0 (pre-checked together; coarse-lot leg first)."""
        eng = self.view
        a, b = self.states()
        if a.mark is None or b.mark is None or self.status != "flat":
            return
        sides: dict[Key, Side] = {
            self.key_a: "sell" if direction > 0 else "buy",
            self.key_b: "buy" if direction > 0 else "sell",
        }
        prices = {self.key_a: mark_decimal(a), self.key_b: mark_decimal(b)}
        (ka, sa), (kb, sb) = self.legs()
        lot_btc = {k: btc_delta(s, s.lot, prices[k]) for k, s in ((ka, sa), (kb, sb))}
        first, second = ((ka, sa), (kb, sb)) if lot_btc[ka] >= lot_btc[kb] else ((kb, sb), (ka, sa))
        room = min(
            self._room_usd(first[0], prices[first[0]]), self._room_usd(second[0], prices[second[0]])
        )
        lvl0 = Ladder.build(*first[0], 1, eng.settings.ladder).levels[0]
        usd = level_notional_usd(lvl0, eng.settings.sizing, self._scale(), room)
        q1 = floor_to_lot(first[1], qty_for_notional(first[1], usd, prices[first[0]]))
        q2 = floor_to_lot(
            second[1],
            qty_for_btc(second[1], btc_delta(first[1], q1, prices[first[0]]), prices[second[0]]),
        )
        for (key, spec), q in ((first, q1), (second, q2)):
            why = gate(self.state, "entry", False) or check_leg(spec, q, prices[key], False)
            if why:
                yield from self._refuse(why)
                return
        why = eng.book_limit_breach(
            [(first[0], q1, prices[first[0]]), (second[0], q2, prices[second[0]])]
        )
        if why:  # both legs together, before the first is sent
            yield from self._refuse(why, why.split(":")[0])
            return
        self._last_refusal = ""
        self.status = "entering"
        self.direction = direction
        self.entry = plan = EntryPlan(direction, first[0], second[0], q1, q2, sides)
        plan.first_cid = self.ids.next(self.cfg.name, first[0][0], "entry")
        yield Send(first[0], sides[first[0]], q1, False, "entry", plan.first_cid)

    def _on_entry_update(self, intent: OrderIntent, up: OrderUpdate) -> Actions:
        plan = self.entry
        eng = self.view
        if plan is None:
            return
        if up.fill is not None:
            plan.fills[intent.venue, intent.symbol] = up.filled_qty
        if not up.status.final:
            return
        if intent.client_order_id == plan.first_cid:
            filled = up.filled_qty
            if filled == 0:
                self.status, self.direction, self.entry = "flat", 0, None
                return
            second_qty = plan.second_qty
            if filled != plan.first_qty:  # partly filled then cancelled: match what filled
                spec1, spec2 = self.specs(plan.first), self.specs(plan.second)
                p1 = mark_decimal(eng.market.get(*plan.first))
                p2 = mark_decimal(eng.market.get(*plan.second))
                second_qty = floor_to_lot(
                    spec2, qty_for_btc(spec2, btc_delta(spec1, filled, p1), p2)
                )
            plan.second_cid = self.ids.next(self.cfg.name, plan.second[0], "entry")
            plan.second_sent_ts_ms = eng.now
            yield Send(
                plan.second, plan.sides[plan.second], second_qty, False, "entry", plan.second_cid
            )
        elif intent.client_order_id == plan.second_cid and self.status == "entering":
            if up.status is OrderStatus.FILLED:
                yield from self._opened()
            else:
                yield from self._leg_risk(
                    f"{plan.second[0]} leg {up.status}: {up.reason or 'no fill'}"
                )

    def _opened(self) -> Actions:
        plan = self.entry
        assert plan is not None
        self.status = "open"
        self.opened_ts_ms = self.view.now
        self.ladders = {}
        for key in (plan.first, plan.second):
            pos = self.view.ledger.position(*key)
            lad = Ladder.build(*key, 1 if pos.qty > 0 else -1, self.view.settings.ladder)
            assert pos.entry_price is not None
            lad.anchor(
                float(pos.entry_price),
                abs(pos.qty),
                float(notional_usd(pos.spec, pos.qty, pos.entry_price)),
            )
            self.ladders[key] = lad
        self.entry = None
        yield from self.hedge(now=True)

    def _check_leg_timeout(self) -> Actions:
        plan = self.entry
        timeout_ms = int(self.view.settings.risk.leg_timeout_s * 1000)
        if plan and plan.second_sent_ts_ms is not None:
            if self.view.now - plan.second_sent_ts_ms > timeout_ms:
                yield Cancel(plan.second, plan.second_cid)
                yield from self._leg_risk(
                    f"{plan.second[0]} leg not filled within {timeout_ms / 1000:g} s"
                )

    def _leg_risk(self, why: str) -> Actions:
        self.status = "leg-risk"
        yield Alert(f"pair {self.cfg.name}: LEG RISK, {why}; unwinding reduce-only")
        yield from self._unwind_open_legs()

    def _unwind_open_legs(self) -> Actions:
        """One reduce-only unwind in flight per open leg; the same id until it fills."""
        eng = self.view
        for key, _ in self.legs():
            pos = eng.ledger.position(*key).qty
            if pos == 0 or key in eng.closing:
                continue
            cid = self.unwind_ids.get(key) or self.ids.next(self.cfg.name, key[0], "unwind")
            self.unwind_ids[key] = cid
            if cid in eng.live_orders:
                continue  # this unwind is still in flight
            side: Side = "sell" if pos > 0 else "buy"
            yield Send(key, side, abs(pos), True, "unwind", cid)  # the leg's one close in flight
        self.refresh_status()

    # ----------------------------------------------------------------- updates
    def on_update(self, intent: OrderIntent, up: OrderUpdate) -> Actions:
        """React to an update of one of this pair's orders (fills are already booked)."""
        purpose = intent.purpose
        if purpose == "entry":
            yield from self._on_entry_update(intent, up)
        elif purpose == "ladder":
            key, lvl = self.adding.get(intent.client_order_id, (None, None))
            if lvl is not None and up.status.final:
                del self.adding[intent.client_order_id]
                if up.filled_qty > 0:
                    lvl.status, lvl.size = "filled", up.filled_qty
                    price = up.fill.price if up.fill else mark_decimal(self.view.market.get(*key))  # type: ignore[misc]
                    lvl.size_usd = float(notional_usd(self.specs(key), up.filled_qty, price))  # type: ignore[arg-type]
                    self.last_add = key
                    yield from self.hedge(now=True)
                else:
                    lvl.status = "skipped"
        elif purpose == "hedge":
            if up.status.final and intent.client_order_id == self.hedge_cid:
                self.hedge_cid = None
        elif purpose == "unwind":
            if up.status is OrderStatus.FILLED:
                self.unwind_ids.pop((intent.venue, intent.symbol), None)
        if up.status.final:
            self.refresh_status()

    # ---------------------------------------------------------------- ladder
    def _ladder_due(self) -> bool:
        """Whether a ladder level may be added now: both legs priced lately, the state and the
        venues allow it, the signal still points the pair's way and its EMA confirms, and a
        leg's mark has reached a pending level's trigger (:meth:`_ladder_adds` then decides,
        leg by leg, with what is in flight)."""
        now = self.view.now
        for st in self._states:  # the add's hedge fills on the other leg: both priced now
            # (checked first: the cheapest check, and the one that most often says no)
            if st.last_ts_ms is None or now - st.last_ts_ms > self._fresh_ms:
                return False
        if gate(self.state, "ladder", False) or self._stale():
            return False
        if self.signal.last.direction != self.direction or not self.signal.ema_confirms(
            self.direction
        ):
            return False
        a, b = self._states
        for key, lad in self.ladders.items():
            mark = (a if key == self.key_a else b).mark
            if mark is not None and lad.triggered(mark) is not None:
                return True
        return False

    def _ladder_adds(self) -> Actions:
        """The due ladder levels (the caller asked :meth:`_ladder_due`), leg by leg."""
        eng = self.view
        busy = {key for key, _ in self.adding.values()}
        for key, lad in self.ladders.items():
            st = eng.market.get(*key)
            if st.mark is None or key in busy:
                continue
            lvl = lad.triggered(st.mark)
            if lvl is None:
                continue
            spec = self.specs(key)
            price = mark_decimal(st)
            room = self._room_usd(key, price)
            usd = level_notional_usd(lvl, eng.settings.sizing, self._scale(), room)
            qty = floor_to_lot(spec, qty_for_notional(spec, usd, price))
            why = check_leg(spec, qty, price, False) or self._add_breach(key, qty, price)
            if why:
                lvl.status, lvl.size, lvl.size_usd = "skipped", ZERO, 0.0
                yield Alert(
                    f"pair {self.cfg.name} ladder level {lvl.index} on {key[0]} skipped: {why}"
                )
                continue
            side: Side = "buy" if lad.side > 0 else "sell"
            cid = self.ids.next(self.cfg.name, key[0], "ladder")
            lvl.status = "sent"
            self.adding[cid] = (key, lvl)
            yield Send(key, side, qty, False, "ladder", cid)

    def _add_breach(self, key: Key, qty: Decimal, price: Decimal) -> str | None:
        """A book or venue limit the ladder add of ``qty`` on ``key`` would breach, counting
        the hedge that completes it on the other leg (the same delta at its mark)."""
        ((other, spec_o),) = ((k, s) for k, s in self.legs() if k != key)
        st = self.view.market.get(*other)
        adds = [(key, qty, price)]
        if st.mark is not None:
            p_o = mark_decimal(st)
            delta = btc_delta(self.specs(key), qty, price)
            adds.append((other, floor_to_lot(spec_o, qty_for_btc(spec_o, delta, p_o)), p_o))
        return self.view.book_limit_breach(adds)

    # ----------------------------------------------------------------- hedge
    def hedge(self, *, now: bool = False) -> Actions:
        """Bring the pair's net delta (base asset units) back to the target inside the band
        with one order on the leg that gets closest to it (after a ladder add, the other leg
        when it does as well). One hedge in flight at a time. Hysteresis
        (:class:`~core.domain.config.HedgeSettings`; band, target and wide band per pair:
        :attr:`band`): nothing while |net| <= the band; within ``min_interval_s`` of the last hedge,
        nothing unless |net| > the wide band, and never a reversal of that hedge for a delta
        move smaller than the band. ``now``: the hedge completing an entry or a ladder add,
        which never waits."""
        if not self._hedge_due():
            return
        eng = self.view
        cfg = eng.settings.hedge
        band = self.band
        net = self.net_delta()
        if abs(net) <= band:
            return
        sign = -1 if net > 0 else 1  # the sign of the BTC the hedge trades
        last = self.last_hedge
        if not now and last is not None and eng.now - last[0] < cfg.min_interval_s * 1000:
            if abs(net) <= self.wide_band:
                return
            if last[1] == -sign and abs(net - last[2]) < band:
                return
        aim = net + sign * self.target  # what to trade away: net -> +-target
        fresh_ms = cfg.fresh_price_s * 1000
        best: tuple[tuple[bool, int, bool, Decimal], Key, Side, Decimal, bool] | None = None
        for key, spec in self.legs():
            st = eng.market.get(*key)
            if st.mark is None or key in eng.closing:
                continue
            price = mark_decimal(st)
            want = qty_for_btc(spec, -aim, price)
            qty = floor_to_lot(spec, abs(want))
            if qty == 0:
                continue
            side: Side = "buy" if want > 0 else "sell"
            pos = eng.ledger.position(*key).qty
            reduce_only = pos != 0 and (pos > 0) != (want > 0) and qty <= abs(pos)
            if gate(self.state, "hedge", reduce_only) or check_leg(spec, qty, price, reduce_only):
                continue
            signed = qty if side == "buy" else -qty
            after = net + btc_delta(spec, signed, price)
            if abs(after) >= abs(net):
                continue
            # inside the band first; then the leg that did not just add; then a leg priced
            # at this instant; then the closest to the target
            stale = st.last_ts_ms is None or eng.now - st.last_ts_ms > fresh_ms
            other = 0 if self.last_add is not None and key != self.last_add else 1
            rank = (abs(after) > band, other, stale, abs(after - (net - aim)))
            if best is None or rank < best[0]:
                best = (rank, key, side, qty, reduce_only)
        if best is None:
            return
        _, key, side, qty, reduce_only = best
        self.last_add = None
        self.last_hedge = (eng.now, sign, net + sign * (abs(net) - self.target))
        self.hedge_cid = self.ids.next(self.cfg.name, key[0], "hedge")
        yield Send(key, side, qty, reduce_only, "hedge", self.hedge_cid)

    def _hedge_due(self) -> bool:
        """Whether :meth:`hedge` may have work: no hedge or ladder add in flight and, for the
        engine's only pair, the book's float delta beyond (just inside) the band (the exact
        Decimal check follows in :meth:`hedge`)."""
        if self.hedge_cid is not None or self.adding:
            return False
        return not (self.alone and abs(self.view.net_delta_btc_float()) <= self._within_band)

    # ----------------------------------------------------------------- close
    def close(self, purpose: str) -> Actions:
        """Close both legs reduce-only (exit, flatten, kill); cancels pending ladder levels."""
        self.cancel_ladders()
        if self.status in ("open", "entering"):
            self.status = "closing"
        for key, _ in self.legs():
            yield ClosePosition(key, purpose)
        self.refresh_status()
