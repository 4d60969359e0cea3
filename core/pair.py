"""One pair of legs at run time: entry, DCA ladder adds, hedging, exit, leg-risk unwind.

Direction +1 = short leg a / long leg b (leg a's funding is higher per hour); -1 the reverse.
The entry sends the leg with the coarser lot first (its size in BTC can only be matched, not
chosen freely), then matches the other leg's BTC delta. Both legs are checked before the first
is sent (HAZARDS H7). If the second leg fails, the pair enters ``leg-risk``: one reduce-only
unwind of the first leg, retried with the same client order id until it fills, and no entries,
adds or exits meanwhile (HAZARDS H11).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from core.config import PairSettings
from core.contracts import btc_delta, floor_to_lot, notional_usd, qty_for_btc, qty_for_notional
from core.events import InstrumentSpec
from core.ladder import Ladder, level_notional_usd, vol_scale
from core.market import InstrumentState, mark_decimal
from core.orders import Fill, Side
from core.risk import TradingState, check_leg, gate
from core.signal import PairSignal

if TYPE_CHECKING:
    from core.engine import Engine
    from core.ledger import Key


class PairRuntime:
    """Run-time state of one configured pair inside an :class:`Engine`."""

    def __init__(
        self, engine: Engine, cfg: PairSettings, spec_a: InstrumentSpec, spec_b: InstrumentSpec
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.spec_a, self.spec_b = spec_a, spec_b
        self.key_a: Key = (spec_a.venue, spec_a.symbol)
        self.key_b: Key = (spec_b.venue, spec_b.symbol)
        self.signal = PairSignal(engine.settings.strategy, spec_a, spec_b)
        self.status = "flat"
        self.direction = 0
        self.ladders: dict[Key, Ladder] = {}
        self.last_add: Key | None = None
        self.unwind: tuple[str, Key, Side, Decimal] | None = None
        self._last_refusal = ""

    # ---------------------------------------------------------------- helpers
    def states(self) -> tuple[InstrumentState, InstrumentState]:
        """Market states of leg a and leg b."""
        m = self.engine.market
        return m.get(*self.key_a), m.get(*self.key_b)

    def legs(self) -> tuple[tuple[Key, InstrumentSpec], tuple[Key, InstrumentSpec]]:
        """((key, spec) of leg a, (key, spec) of leg b)."""
        return (self.key_a, self.spec_a), (self.key_b, self.spec_b)

    def _stale(self) -> bool:
        return bool({self.key_a[0], self.key_b[0]} & self.engine.stale_venues)

    def refresh_status(self) -> None:
        """Back to ``flat`` once both legs are flat (after an exit, flatten or unwind)."""
        led = self.engine.ledger
        if led.position(*self.key_a).qty == 0 and led.position(*self.key_b).qty == 0:
            if self.status != "flat":
                self.status = "flat"
                self.direction = 0
                self.unwind = None
                self.cancel_ladders()
                self.signal.entry_count = 0

    def cancel_ladders(self) -> None:
        """Cancel every pending ladder level of both legs."""
        for lad in self.ladders.values():
            lad.cancel_pending()

    def unhedged_btc(self) -> float:
        """BTC delta of the two legs together (what a leg-risk state leaves exposed)."""
        return float(self.engine.leg_delta_btc(self.key_a) + self.engine.leg_delta_btc(self.key_b))

    # ---------------------------------------------------------------- signal
    def observe(self) -> None:
        """One observation of the signal; may enter or exit."""
        a, b = self.states()
        held = self.direction if self.status == "open" else 0
        self.signal.observe(a, b, held)
        if self.status == "flat":
            d = self.signal.wants_entry()
            if d and self.engine.state is TradingState.ARMED and not self._stale():
                self.enter(d)
        elif self.status == "open" and self.signal.wants_exit():
            self.close("exit")

    def on_price(self) -> None:
        """Per price event: leg-risk unwind retry, ladder adds, hedge."""
        if self.status == "leg-risk":
            self._retry_unwind()
        elif self.status == "open":
            self._ladder_adds()
            self.hedge()

    # ----------------------------------------------------------------- entry
    def _refuse(self, why: str) -> None:
        if why != self._last_refusal:
            self.engine.alert(f"pair {self.cfg.name} not started: {why}")
            self._last_refusal = why

    def _room_usd(self, key: Key, price: Decimal) -> Decimal:
        eng = self.engine
        pos = eng.ledger.position(*key)
        held = notional_usd(pos.spec, pos.qty, price)
        caps = min(self.cfg.max_notional_usd, eng.settings.sizing.leg_max_notional_usd) - held
        lev = Decimal(repr(eng.settings.risk.max_leverage))
        capital = (Decimal(repr(eng.equity_usd)) * lev - eng.gross_notional_usd()) / 2
        return max(Decimal(0), min(caps, capital))

    def _scale(self) -> float:
        look = self.engine.settings.sizing.vol_lookback_hours
        vols = [v for v in (st.realised_vol(look) for st in self.states()) if v is not None]
        return vol_scale(max(vols) if vols else None, self.engine.settings.sizing)

    def enter(self, direction: int) -> None:
        """Open both legs at ladder level 0 (pre-checked together; coarse-lot leg first)."""
        eng = self.engine
        a, b = self.states()
        if a.mark is None or b.mark is None:
            return
        sides: dict[Key, Side] = {
            self.key_a: "sell" if direction > 0 else "buy",
            self.key_b: "buy" if direction > 0 else "sell",
        }
        prices = {self.key_a: mark_decimal(a), self.key_b: mark_decimal(b)}
        (ka, sa), (kb, sb) = self.legs()
        lot_btc = {k: btc_delta(s, s.lot, prices[k]) for k, s in ((ka, sa), (kb, sb))}
        first, second = ((ka, sa), (kb, sb)) if lot_btc[ka] >= lot_btc[kb] else ((kb, sb), (ka, sa))
        lad_cfg = eng.settings.ladder
        room = min(
            self._room_usd(first[0], prices[first[0]]), self._room_usd(second[0], prices[second[0]])
        )
        lvl0 = Ladder.build(*first[0], 1, lad_cfg).levels[0]
        usd = level_notional_usd(lvl0, eng.settings.sizing, self._scale(), room)
        q1 = floor_to_lot(first[1], qty_for_notional(first[1], usd, prices[first[0]]))
        d1 = btc_delta(first[1], q1, prices[first[0]])
        q2 = floor_to_lot(second[1], qty_for_btc(second[1], d1, prices[second[0]]))
        for (key, spec), q in ((first, q1), (second, q2)):
            why = gate(eng.state, "entry", False) or check_leg(spec, q, prices[key], False)
            if why:
                self._refuse(why)
                return
        self._last_refusal = ""
        f1 = eng.send(self.cfg.name, first[0], sides[first[0]], q1, False, "entry")
        if not isinstance(f1, Fill):
            return
        self.direction = direction
        f2 = eng.send(self.cfg.name, second[0], sides[second[0]], q2, False, "entry")
        if not isinstance(f2, Fill):
            self.status = "leg-risk"
            eng.alert(
                f"pair {self.cfg.name}: LEG RISK, {second[0][0]} leg failed; unwinding "
                f"{f1.qty} {first[0][1]} on {first[0][0]}"
            )
            back: Side = "sell" if f1.side == "buy" else "buy"
            self.unwind = (
                eng.ids.next(self.cfg.name, first[0][0], "unwind"),
                first[0],
                back,
                f1.qty,
            )
            self._retry_unwind()
            return
        self.status = "open"
        self.ladders = {}
        for key, fill in ((first[0], f1), (second[0], f2)):
            side = 1 if fill.side == "buy" else -1
            lad = Ladder.build(*key, side, lad_cfg)
            lad.anchor(
                float(fill.price),
                fill.qty,
                float(notional_usd(self.specs(key), fill.qty, fill.price)),
            )
            self.ladders[key] = lad
        self.hedge()

    def specs(self, key: Key) -> InstrumentSpec:
        """The spec of one of this pair's legs."""
        return self.spec_a if key == self.key_a else self.spec_b

    def _retry_unwind(self) -> None:
        if self.unwind is None:
            return
        cid, key, side, qty = self.unwind
        ans = self.engine.send(self.cfg.name, key, side, qty, True, "unwind", client_order_id=cid)
        if isinstance(ans, Fill):
            self.unwind = None
            self.refresh_status()

    # ---------------------------------------------------------------- ladder
    def _ladder_adds(self) -> None:
        eng = self.engine
        if gate(eng.state, "ladder", False) or self._stale():
            return
        r = self.signal.last
        if r.direction != self.direction or not self.signal.ema_confirms(self.direction):
            return
        for key, lad in self.ladders.items():
            st = eng.market.get(*key)
            if st.mark is None:
                continue
            lvl = lad.triggered(st.mark)
            if lvl is None:
                continue
            spec = self.specs(key)
            price = mark_decimal(st)
            usd = level_notional_usd(
                lvl, eng.settings.sizing, self._scale(), self._room_usd(key, price)
            )
            qty = floor_to_lot(spec, qty_for_notional(spec, usd, price))
            why = check_leg(spec, qty, price, False)
            if why:
                lvl.status, lvl.size, lvl.size_usd = "skipped", Decimal(0), 0.0
                eng.alert(
                    f"pair {self.cfg.name} ladder level {lvl.index} on {key[0]} skipped: {why}"
                )
                continue
            side: Side = "buy" if lad.side > 0 else "sell"
            ans = eng.send(self.cfg.name, key, side, qty, False, "ladder")
            if isinstance(ans, Fill):
                lvl.status, lvl.size = "filled", ans.qty
                lvl.size_usd = float(notional_usd(spec, ans.qty, ans.price))
                self.last_add = key
                self.hedge()

    # ----------------------------------------------------------------- hedge
    def hedge(self) -> None:
        """Bring the net BTC delta back inside the band with one order on the leg that gets
        closest to neutral (after a ladder add, the other leg when it does as well)."""
        eng = self.engine
        band = eng.settings.hedge.band_btc
        if abs(eng.net_delta_btc_float()) <= float(band) * 0.999:
            return
        net = eng.net_delta_btc()
        if abs(net) <= band:
            return
        best: tuple[tuple[bool, int, Decimal], Key, Side, Decimal, bool] | None = None
        for key, spec in self.legs():
            st = eng.market.get(*key)
            if st.mark is None:
                continue
            price = mark_decimal(st)
            want = qty_for_btc(spec, -net, price)
            qty = floor_to_lot(spec, abs(want))
            if qty == 0:
                continue
            side: Side = "buy" if want > 0 else "sell"
            pos = eng.ledger.position(*key).qty
            reduce_only = pos != 0 and (pos > 0) != (want > 0) and qty <= abs(pos)
            if gate(eng.state, "hedge", reduce_only) or check_leg(spec, qty, price, reduce_only):
                continue
            signed = qty if side == "buy" else -qty
            residual = abs(net + btc_delta(spec, signed, price))
            if residual >= abs(net):
                continue
            # inside the band first; then the leg that did not just add; then the closest
            other = 0 if self.last_add is not None and key != self.last_add else 1
            rank = (residual > band, other, residual)
            if best is None or rank < best[0]:
                best = (rank, key, side, qty, reduce_only)
        if best is None:
            return
        _, key, side, qty, reduce_only = best
        eng.send(self.cfg.name, key, side, qty, reduce_only, "hedge")
        self.last_add = None

    # ----------------------------------------------------------------- close
    def close(self, purpose: str) -> None:
        """Close both legs reduce-only (exit); cancels pending ladder levels."""
        self.cancel_ladders()
        eng = self.engine
        for key, _ in self.legs():
            pos = eng.ledger.position(*key).qty
            if pos != 0:
                side: Side = "sell" if pos > 0 else "buy"
                eng.send(self.cfg.name, key, side, abs(pos), True, purpose)
        self.refresh_status()
