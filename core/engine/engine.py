"""The trading engine: one object for replay, paper and live; only sources and sinks change.

Data flow (DESIGN): event -> market state -> ledger (settlements) -> risk monitor (equity,
drawdown) -> strategy (signal on a sim-time observation grid, DCA ladders, hedger) -> risk
gate -> venue -> fills -> ledger. Time comes only from events (``self.now`` is the latest
event's ``ts_ms``): no wall-clock reads here, so a replay decides what live would have.

Valuation (equity, delta, notional) lives in :mod:`core.engine.valuation`; the pairs'
decisions in :mod:`core.engine.pair`. This module is longer than most (~510 lines) because the
state machine's transitions (events, commands, the order path, closes and sweeps) are kept in
one class on purpose: every change of trading state is visible in one place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from core.domain import commands as cmd
from core.domain.config import PairSettings, Settings
from core.domain.contracts import ZERO, is_coin
from core.domain.events import Event, FundingRate, FundingSettled, InstrumentSpec
from core.domain.ledger import Key, Ledger, Position
from core.domain.market import InstrumentState, MarketState, mark_decimal
from core.domain.orders import ClientOrderIds, Fill, OrderIntent, Rejection, Side
from core.domain.records import (
    AlertRaised,
    CommandReceived,
    ErrorRaised,
    MarketObserved,
    PairAdded,
    PairAdopted,
    PairArmed,
    PairRemoved,
    Record,
    Recorder,
    StateChanged,
    VenueFundingReported,
    WriteAheadLog,
)
from core.domain.risk import DrawdownMonitor, TradingState, check_leg, gate
from core.domain.snapshot import LogEntry
from core.domain.timeutil import HOUR_MS, ms_to_iso
from core.domain.venue import OrderStatus, OrderUpdate
from core.engine import reconcile, restart
from core.engine.actions import Action, Actions, Cancel, ClosePosition, Send
from core.engine.pair import PairRuntime
from core.engine.paper import PaperVenue
from core.engine.valuation import Valuation

LOG_KEEP = 500
MISSED_SETTLEMENT_GRACE_MS = HOUR_MS
"""A settlement expected from the instrument's schedule and not known this long after its
instant is counted as missed (a live feed learns of settlements a few minutes late)."""

NOT_CONNECTED = (
    "live execution is not connected (start-up has not finished, or it failed: see the alert "
    "that halted it); nothing can be sent"
)
"""Why a live engine sends nothing and refuses to arm while it has no order path: a live
order never falls back to the paper venue."""
#: Sets of instruments moved together whose pairs are kept (:meth:`Engine._due_for`).
DUE_SETS_KEPT = 256

CLOSES = frozenset({"exit", "flatten", "kill", "unwind"})
SWEEP_STATES = frozenset({TradingState.HALTED, TradingState.REDUCING})


class OrderOutlet(Protocol):
    """The engine's side of live execution: where its intents and cancels go (the runtime
    adapts the execution router to it). Updates come back through ``Engine.on_order_update``
    on the engine's loop thread."""

    def submit(self, intent: OrderIntent) -> None:
        """Queue ``intent`` for its venue (non-blocking)."""

    def cancel(self, venue: str, symbol: str, client_order_id: str) -> None:
        """Queue a cancel of one order (non-blocking)."""

    def cancel_all(self, venue: str, symbol: str) -> None:
        """Queue a cancel of every open order on ``symbol`` at ``venue``, ours or not (the
        kill switch; non-blocking). Reduce-only orders submitted after it on that symbol
        go out once the venue has answered it."""


class Engine(Valuation):
    """The engine for the pairs in ``settings``.

    ``mode`` is ``"replay"``, ``"paper"`` or ``"live"``: replay and paper fill on the paper
    venue; live sends through the router :meth:`connect_router` gives it, and while it has
    none (start-up not finished or failed) it sends nothing and refuses to arm
    (:data:`NOT_CONNECTED`). Feed events with :meth:`on_event`, operator
    commands with :meth:`handle`. ``listeners`` are called with every new :class:`LogEntry`
    (from the engine's thread). ``run_tag`` goes into every client order id so that ids of
    one live run never repeat those of an earlier run (replays leave it empty: the same ids
    every time).
    """

    def __init__(self, settings: Settings, *, mode: str = "replay", run_tag: str = "") -> None:
        self.settings = settings
        self.mode = mode
        self.specs: dict[Key, InstrumentSpec] = {
            (s.venue, s.symbol): s for s in settings.instruments.values()
        }
        self.ledger = Ledger(self.specs, settings.capital_by_key())
        self.market = MarketState()
        self.now = 0
        Valuation.__init__(self)
        self.venue = PaperVenue(self.specs, settings.paper.slippage_bps)
        self.ids = ClientOrderIds(run_tag=run_tag)
        self.dd = DrawdownMonitor(settings.risk.drawdown_limit_pct)
        if mode == "replay":
            self.state = TradingState.ARMED if settings.replay.auto_arm else TradingState.DISARMED
        else:
            self.state = TradingState(settings.risk.start_state)
        self.pairs = [
            PairRuntime(
                self, self.ids, p, settings.instruments[p.leg_a], settings.instruments[p.leg_b]
            )
            for p in settings.pairs
        ]
        self._pairs_by_key: dict[Key, list[PairRuntime]] = {}
        self._due_by_state: dict[InstrumentState, tuple[PairRuntime, ...]] = {}
        """The pairs an instant that moved only that instrument runs, in config order."""
        self._due_by_moved: dict[tuple[InstrumentState, ...], tuple[PairRuntime, ...]] = {}
        """The same for an instant that moved several instruments (:meth:`_due_for`)."""
        for pr in self.pairs:
            self._index_pair(pr)
        self.events = 0
        self.log: deque[LogEntry] = deque(maxlen=LOG_KEEP)
        self._seq = 0
        self.recorders: list[Recorder] = []
        self.stale_venues: set[str] = set()
        """Venues whose market data is stale: nothing opens there (read-only outside; set with
        :meth:`set_stale_venues`)."""
        self.not_trading: dict[Key, str] = {}
        """Instruments the venue does not trade now (its status word, or not listed): a pair
        with a leg here opens nothing (HAZARDS H23; read-only outside; set with
        :meth:`set_not_trading`)."""
        self._ever_live: set[str] = set()
        self._venue_funding: dict[tuple[str, str, int], VenueFundingReported] = {}
        self._next_obs_ts = 0
        self._obs_ms = settings.strategy.observe_every_s * 1000
        self.rejections: list[Rejection] = []
        self.router: OrderOutlet | None = None
        self.live_orders: dict[str, tuple[OrderIntent, PairRuntime | None]] = {}
        self.closing: set[Key] = set()
        self.unknown_positions: set[Key] = set()
        self.restart_review: restart.RestartPlan | None = None
        """What live start-up found and asks the operator about (None: nothing pending)."""
        self.restart_left = False
        """The operator chose to leave what start-up found (nothing trades this session)."""
        self.fill_counts: dict[Key, int] = {}
        """Fills booked per instrument (a venue reading asked for before the last one may not
        be compared: :mod:`core.engine.reconcile`)."""
        self.on_position_doubt: Callable[[Key], None] | None = None
        """Called (engine thread) when a position must be read again from its venue."""
        self._sweep_purpose = ""
        self.max_net_delta: dict[str, tuple[float, int]] = {}
        """The book's largest |net delta| in each asset it trades (that asset's units: BTC,
        XRP) left after an instant's decisions (the hedgers' work measured at every instant
        of the run), and when. Alone, the one pair's hedged delta
        (:meth:`net_delta_btc_float`: IBIT and coin margin included when configured), under
        its asset; beside other pairs, every position of each asset
        (:meth:`net_delta_by_asset`): BTC never mixed with another asset."""
        self._last_equity: float | None = None
        self._dd_beyond = False
        self.session_venues: frozenset[str] | None = None
        """The venues this session is connected to (set by a paper or live session: their
        feeds run); a pair added at run time on another venue is refused. None: no session
        says (an engine driven by hand); a replay refuses every added pair."""
        self.run_time_pairs: set[str] = set()
        """Names of the pairs added at run time (:meth:`add_pair`; restored ones included)."""
        self._missed_checked: dict[Key, int] = {}
        self._missed_next_check_ms = 0
        self.missed_settlements: dict[tuple[str, str, int], Decimal] = {}
        """Settlements the schedule expected while a position was held, with no rate known
        (venue, symbol, settlement ts_ms) -> the position then: never booked as 0, counted
        and alerted instead; removed if the settlement turns up late."""

    # ----------------------------------------------------------------- events
    def on_event(self, ev: Event) -> None:
        """Apply one event as an instant of its own (live: every event is one instant)."""
        self.on_instant((ev,))

    def on_instant(self, events: Sequence[Event]) -> None:
        """Apply every event of one instant (one ``ts_ms``: all venues, all kinds), then let
        the risk monitor, the strategy and the hedger look once, at that instant's prices.

        One instant, one state (DESIGN): market updates first, then the instant's
        settlements (on the positions held before any fill of this instant: a position
        opened at a settlement instant is not charged for it, one closed then is,
        :meth:`core.domain.ledger.Position.qty_at`), then mark-to-market and drawdown,
        then the observation due (if any), then each pair whose instruments moved, once.
        Replays group a file's events by ``ts_ms`` (:class:`core.runtime.drive.Drive`);
        live events come one by one (:meth:`on_event`)."""
        if not events:
            return
        apply = self.market.apply
        moved: dict[InstrumentState, None] = {}  # the instruments this instant moved, in order
        settles = False
        for ev in events:
            st = apply(ev)
            kind = type(ev)
            if kind is FundingRate:
                self._missed_next_check_ms = 0  # a schedule may have moved: check again
                continue
            if kind is FundingSettled:
                settles = True
                self._missed_next_check_ms = 0
            moved[st] = None
            last_moved = st
        self.events += len(events)
        self.now = events[-1].ts_ms
        if settles:
            for ev in events:
                if type(ev) is FundingSettled:
                    self._settle(ev)
        if self.now >= self._missed_next_check_ms:
            self._check_missed_settlements()
        # Mark to market unless it would find the equity it found last time with nothing else
        # to do: no price the book depends on moved (while flat, every price but the coin's,
        # if a coin is held), the book unchanged, the drawdown within the limit and the
        # hour's curve point taken. (Written out here, not in a method: it runs every instant.)
        start, end = self._curve_hour_ms
        if (
            moved
            and (
                not self._valued.isdisjoint(moved)
                or self._book_dirty
                or self._equity_due
                or self._dd_beyond
                or not start <= self.now < end
            )
            and self._revalue()
        ):  # _mark_to_market() inlined: the book and its drawdown, at once
            self._stop_out()
        if self.now >= self._next_obs_ts and self._obs_ms > 0:
            self._next_obs_ts = (self.now // self._obs_ms + 1) * self._obs_ms
            for pr in self.pairs:
                self.drive(pr, pr.observe())
                if self.recorders:
                    a, b = pr.states()
                    r = pr.signal.last
                    self._record(
                        MarketObserved(
                            self.now,
                            pr.cfg.name,
                            a.rate_per_hour(),
                            b.rate_per_hour(),
                            r.spread_per_hour,
                            r.basis,
                        )
                    )
        if len(moved) == 1:  # most instants: one instrument moved, its pairs in order
            due: Iterable[PairRuntime] = self._due_by_state.get(last_moved, ())
        else:  # several (a replay's minute: both venues' bars): the same few sets recur
            together = tuple(moved)
            due = self._due_by_moved.get(together) or self._due_for(together)
        for pr in due:
            if pr.status != "flat":  # a flat pair has nothing to do on a price (on_price)
                acts = pr.on_price()
                if acts is not None:
                    self.drive(pr, acts)
        if self._open or self._book_dirty:
            if len(self.pairs) > 1:  # the book's in each asset; each pair's own, in its units
                for asset, net in self.net_delta_by_asset().items():
                    self._track_net_delta(asset, abs(float(net)))
                for pr in self.pairs:
                    if pr.status != "flat":
                        pr.track_net_delta()
            else:
                asset = self.pairs[0].asset if self.pairs else "BTC"
                self._track_net_delta(asset, abs(self.net_delta_btc_float()))

    def _index_pair(self, pr: PairRuntime, *, remove: bool = False) -> None:
        """Make ``pr`` one of the pairs its two instruments' prices drive (at construction,
        and for a pair added at run time), or no longer (``remove``: a pair removed); the
        kept sets of instruments moved together are forgotten either way."""
        for key in (pr.key_a, pr.key_b):
            prs = [p for p in self._pairs_by_key.get(key, ()) if p is not pr]
            if not remove:
                prs.append(pr)
            st = self.market.get(*key)
            if prs:
                self._pairs_by_key[key] = prs
                self._due_by_state[st] = tuple(dict.fromkeys(prs))
            else:
                self._pairs_by_key.pop(key, None)
                self._due_by_state.pop(st, None)
        self._due_by_moved.clear()

    def _due_for(self, moved: tuple[InstrumentState, ...]) -> tuple[PairRuntime, ...]:
        """The pairs an instant that moved ``moved`` (in that order) runs: each moved
        instrument's pairs in turn, each pair once. Kept for the next instant that moves the
        same instruments (at most :data:`DUE_SETS_KEPT` sets; a pair added or removed clears
        them)."""
        by_id: dict[int, PairRuntime] = {}
        for st in moved:
            for pr in self._pairs_by_key.get((st.venue, st.symbol), ()):
                by_id[id(pr)] = pr
        if len(self._due_by_moved) >= DUE_SETS_KEPT:
            self._due_by_moved.clear()
        due = self._due_by_moved[moved] = tuple(by_id.values())
        return due

    def _track_net_delta(self, asset: str, net: float) -> None:
        """Keep ``net`` as ``asset``'s largest |net delta| if it is (:attr:`max_net_delta`)."""
        if net > self.max_net_delta.get(asset, (0.0, 0))[0]:
            self.max_net_delta[asset] = (net, self.now)

    @property
    def max_net_delta_btc(self) -> float:
        """The book's largest |net BTC delta| after an instant (BTC positions only)."""
        return self.max_net_delta.get("BTC", (0.0, 0))[0]

    @property
    def max_net_delta_ts_ms(self) -> int:
        """When :attr:`max_net_delta_btc` was seen (0: never above 0)."""
        return self.max_net_delta.get("BTC", (0.0, 0))[1]

    def _check_missed_settlements(self) -> None:
        """Count each settlement the instrument's schedule (a rate announced for it, else the
        last settlement + its interval, and every interval after) expected while a position
        was held, once no rate for it is known :data:`MISSED_SETTLEMENT_GRACE_MS` after its
        instant. Runs when the earliest such instant (plus the grace) is reached, and after
        any funding event (which may move a schedule), not at every instant."""
        if self.now < self._missed_next_check_ms:
            return
        next_check = 1 << 62  # no schedule known: wait for a funding event to give one
        for key in self.specs:
            st = self.market.instruments.get(key)
            due = st.next_settlement_ts_ms() if st is not None else None
            if st is None or due is None or not st.interval_ms:
                continue  # no schedule known yet (a funding event resets the wait)
            if self.now < due + MISSED_SETTLEMENT_GRACE_MS:
                next_check = min(next_check, due + MISSED_SETTLEMENT_GRACE_MS)
                continue
            due = max(due, self._missed_checked.get(key, due))
            while self.now >= due + MISSED_SETTLEMENT_GRACE_MS:
                held = self.ledger.position(*key).qty_at(due)
                if held != 0:
                    self.missed_settlements[(key[0], key[1], due)] = held
                    self.alert(
                        f"{key[0]} {key[1]}: no funding rate known for the settlement of "
                        f"{ms_to_iso(due)} (position {held}): not booked; check the venue's "
                        "record"
                    )
                due += st.interval_ms
            self._missed_checked[key] = due
            next_check = min(next_check, due + MISSED_SETTLEMENT_GRACE_MS)
        self._missed_next_check_ms = next_check

    def _settle(self, ev: FundingSettled) -> None:
        key = (ev.venue, ev.symbol)
        if key not in self.specs:
            return
        st = self.market.get(*key)
        mark = ev.mark_price
        if mark is None:
            if st.mark is None:
                at = ev.settlement_ts_ms if ev.settlement_ts_ms is not None else ev.ts_ms
                if self.ledger.position(*key).qty_at(at) != 0:
                    self.alert(f"{ev.venue} {ev.symbol}: settlement without a mark, not charged")
                return
            mark = mark_decimal(st)
        at = ev.settlement_ts_ms if ev.settlement_ts_ms is not None else ev.ts_ms
        self.missed_settlements.pop((ev.venue, ev.symbol, at), None)
        pay = self.ledger.settle_funding(ev.venue, ev.symbol, at, ev.rate, mark)
        self._book_dirty = True
        if pay is not None:
            self._record(pay)
            reported = self._venue_funding.pop((ev.venue, ev.symbol, at), None)
            if reported is not None:
                self._compare_funding(pay.amount, reported)
            verb = "received" if pay.amount >= 0 else "paid"
            self.emit(
                "funding",
                f"{ev.venue} {ev.symbol} funding {verb} {abs(pay.amount):.8f} {pay.currency} "
                f"(rate {ev.rate:+.6%}, pos {pay.position}, mark {mark})",
            )

    def on_venue_funding(self, rep: VenueFundingReported) -> None:
        """A venue's own funding statement (live): recorded, and compared with the ledger's
        payment for that settlement as soon as both are known. The ledger books funding from
        the settled rate and the position it held; a difference beyond 1e-8 and 1 % of the
        amount is an alert (the venue's figure is what the account holds)."""
        self._record(rep)
        at = rep.settlement_ts_ms
        booked = [
            p.amount
            for p in self.ledger.funding_payments
            if (p.venue, p.symbol, p.settlement_ts_ms) == (rep.venue, rep.symbol, at)
        ]
        if booked:
            self._compare_funding(sum(booked, ZERO), rep)
        else:
            self._venue_funding[(rep.venue, rep.symbol, at)] = rep

    def _compare_funding(self, ledger_amount: Decimal, rep: VenueFundingReported) -> None:
        """Alert on a difference beyond tolerance; live, book the venue's figure (the ledger's
        payment for that settlement is corrected by the difference, whatever its size)."""
        diff = rep.amount - ledger_amount
        if abs(diff) > max(Decimal("1e-8"), abs(rep.amount) / 100):
            self.alert(
                f"{rep.venue} {rep.symbol} funding at {ms_to_iso(rep.settlement_ts_ms)}: the "
                f"venue booked {rep.amount} {rep.currency}, the ledger {ledger_amount.normalize()}"
                + (": the venue's figure is booked" if self.mode == "live" else "")
                + "; check the position"
            )
        if diff != 0 and self.mode == "live":
            usd = Decimal(repr(self.coin_usd())) if is_coin(rep.currency) else Decimal(1)
            self.ledger.correct_funding(rep.venue, rep.symbol, diff, usd)
            self._book_dirty = True

    def _mark_to_market(self) -> None:
        """Revalue the book and its drawdown (:meth:`Valuation._revalue`); a drawdown beyond
        the limit flattens reduce-only and HALTs."""
        if self._revalue():
            self._stop_out()

    def _stop_out(self) -> None:
        """The drawdown is beyond the limit: flatten reduce-only and HALT (once)."""
        if self.state is not TradingState.HALTED:
            self.alert(
                f"drawdown {self.dd.drawdown_pct:.2f}% beyond the limit "
                f"{self.dd.limit_pct:.2f}%: flattening and halting"
            )
            self.close_everything("flatten")
            self.set_state(TradingState.HALTED, "drawdown stop-out")

    # --------------------------------------------------------------- commands
    def handle(self, c: cmd.Command) -> None:
        """Apply an operator command; the risk rules decide what it does."""
        who = f" by {c.source}" if c.source else ""
        self._record(CommandReceived(self.now, type(c).__name__, c.source))
        self.emit("command", f"{type(c).__name__}{who}")
        if isinstance(c, cmd.Arm) and (self.restart_review is not None or self.restart_left):
            self.alert(
                "not armed: "
                + ("settle the restart review first (adopt, flatten or leave)"
                   if self.restart_review is not None
                   else "the venues' positions were left as found; restart to review them")
            )  # fmt: skip
        elif isinstance(c, cmd.Arm) and self.mode == "live" and self.router is None:
            self.alert(f"not armed: {NOT_CONNECTED}")
        elif isinstance(c, cmd.Arm):
            self._sweep_purpose = ""
            self.set_state(TradingState.ARMED, "operator arm")
        elif isinstance(c, cmd.Disarm):
            self.set_state(TradingState.DISARMED, "operator disarm")
        elif isinstance(c, cmd.Pause):
            if self.state is TradingState.ARMED:
                self.set_state(TradingState.PAUSED, "operator pause")
        elif isinstance(c, cmd.Resume):
            if self.state is TradingState.PAUSED:
                self.set_state(TradingState.ARMED, "operator resume")
        elif isinstance(c, cmd.Flatten):
            self.set_state(TradingState.REDUCING, "operator flatten")
            self.close_everything("flatten")
        elif isinstance(c, cmd.Kill):
            self.close_everything("kill")
            self.set_state(TradingState.HALTED, "kill switch")
        elif isinstance(c, cmd.SettleRestart):
            self.settle_restart(c.choice)
        elif isinstance(c, cmd.AddPair):
            self.add_pair(c.pair, c.spec_a, c.spec_b)
        elif isinstance(c, cmd.ArmPair):
            self.arm_pair(c.pair)
        elif isinstance(c, cmd.RemovePair):
            self.remove_pair(c.pair)

    # ------------------------------------------------------------- added pairs
    def add_pair_refusal(
        self,
        pair: PairSettings,
        spec_a: InstrumentSpec,
        spec_b: InstrumentSpec,
        *,
        restored: bool = False,
    ) -> str | None:
        """Why ``pair`` (legs ``spec_a``/``spec_b``) cannot be added to this session now, or
        None: a replay (its file holds no data for an instrument it did not record), a live
        session whose order path is not connected (start-up not done or failed) or whose
        restart review is pending (``restored``: start-up restoring the last run's pairs
        before either, not refused for that), a session whose only pair hedges the whole
        book with IBIT shares or the coin margin in it (beside a second pair each pair
        hedges its own legs: that exposure would be left
        unhedged mid-session), a name
        already taken, both legs on one venue, a venue this session is not connected to
        (:attr:`session_venues`), an instrument that already belongs to a pair, an
        instrument id the config uses for another instrument. A live session's venue checks
        (instrument listed, lot, one-way mode, no position or open order there) are the
        runtime's (:mod:`core.runtime.live_add`), before this."""
        if self.mode == "replay":
            return (
                "a replay has no data for an instrument it did not record (add the pair to "
                "the config and record it in a paper session, or run --paper)"
            )
        if self.mode == "live" and not restored:
            if self.router is None:
                return "live execution is not connected (start-up not finished, or failed)"
            if self.restart_review is not None or self.restart_left:
                return "settle the restart review first (adopt, flatten or leave)"
        ibit, hedge = self.settings.ibit, self.settings.hedge
        if len(self.pairs) == 1 and (ibit.shares != 0 or hedge.include_coin_margin):
            return (
                f"pair {self.pairs[0].cfg.name} hedges the whole book (IBIT shares or the coin "
                "margin included, [ibit] / [hedge]); beside a second pair it would hedge its "
                "own legs only and leave that exposure unhedged: add the pair in the config"
            )
        if self.pair_named(pair.name) is not None:
            return f"the name {pair.name!r} is taken by a pair of this session"
        if spec_a.venue == spec_b.venue:
            return "the two legs must be on different venues"
        for iid, spec in ((pair.leg_a, spec_a), (pair.leg_b, spec_b)):
            key = (spec.venue, spec.symbol)
            owners = self._pairs_by_key.get(key)
            if owners:
                return (
                    f"{spec.venue} {spec.symbol} already belongs to pair {owners[0].cfg.name} "
                    "(an instrument may belong to one pair only)"
                )
            venues = self.session_venues
            if venues is not None and spec.venue not in venues:
                return (
                    f"{spec.venue} is not connected in this session (connected: "
                    f"{', '.join(sorted(venues)) or 'none'}; start a session with a pair on "
                    "it to trade it)"
                )
            other = self.settings.instruments.get(iid)
            if other is not None and (other.venue, other.symbol) != key:
                return f"instrument id {iid!r} is the config's {other.venue} {other.symbol}"
        return None

    def add_pair(
        self,
        pair: PairSettings,
        spec_a: InstrumentSpec,
        spec_b: InstrumentSpec,
        *,
        restored: bool = False,
    ) -> bool:
        """Add ``pair`` to this session, disarmed (:class:`~core.domain.commands.AddPair`):
        its instruments join the ledger, the paper venue and the settings (an instrument the
        config already has, by venue and symbol, keeps its id and takes ``spec_*``); a
        ``pair_added`` record goes to the observers (``restored``: start-up brought it back
        from the last run's rows, :func:`core.runtime.restart.restore_added_pairs`). Returns
        False, with an alert ``add pair NAME: refused: why``, when :meth:`add_pair_refusal`
        refuses."""
        name = pair.name
        why = self.add_pair_refusal(pair, spec_a, spec_b, restored=restored)
        if why is not None:
            self.alert(f"{'restore' if restored else 'add'} pair {name}: refused: {why}")
            return False
        instruments = dict(self.settings.instruments)
        ids: list[str] = []
        for iid, spec in ((pair.leg_a, spec_a), (pair.leg_b, spec_b)):
            key = (spec.venue, spec.symbol)
            known = [i for i, s in instruments.items() if (s.venue, s.symbol) == key]
            iid = known[0] if known else iid
            instruments[iid] = spec
            ids.append(iid)
            self.specs[key] = spec
            pos = self.ledger.positions.get(key)
            if pos is None:
                self.ledger.positions[key] = Position(spec)
            elif pos.qty == 0:
                pos.spec = spec
            self.ledger.balances.setdefault((spec.venue, spec.settle_currency), ZERO)
            self.venue.positions.setdefault(key, ZERO)
            if self.coin_key is None and spec.kind == "inverse":
                self.coin_key = key
                self._coin_state = self.market.get(*key)
        cfg = msgspec.structs.replace(pair, leg_a=ids[0], leg_b=ids[1])
        self.settings = msgspec.structs.replace(
            self.settings, instruments=instruments, pairs=(*self.settings.pairs, cfg)
        )
        pr = PairRuntime(self, self.ids, cfg, spec_a, spec_b)
        pr.armed = False
        self.pairs.append(pr)
        self.run_time_pairs.add(name)
        self._index_pair(pr)
        self._book_dirty = True
        self._missed_next_check_ms = 0
        legs = [
            {"id": i, **msgspec.to_builtins(s)} for i, s in zip(ids, (spec_a, spec_b), strict=True)
        ]
        self._record(
            PairAdded(
                self.now,
                name,
                legs,
                cfg.max_notional_usd,
                settings=msgspec.to_builtins(cfg),
                restored=restored,
            )
        )
        self.emit(
            "state",
            f"{'restore' if restored else 'add'} pair {name}: added DISARMED: "
            f"{spec_a.venue} {spec_a.symbol} / "
            f"{spec_b.venue} {spec_b.symbol}, cap {cfg.max_notional_usd} USD a leg; it opens "
            f"nothing until armed (palette: Arm pair {name})",
        )
        return True

    def pair_named(self, name: str) -> PairRuntime | None:
        """This session's pair called ``name``, or None."""
        return next((p for p in self.pairs if p.cfg.name == name), None)

    def arm_pair(self, name: str) -> None:
        """Let a pair added at run time trade (:class:`~core.domain.commands.ArmPair`); the
        engine's own state still decides what it may send. Unknown or already armed: said
        in the log, nothing changes; refused while a restart review is pending."""
        pr = self.pair_named(name)
        if pr is None:
            self.emit("state", f"arm pair {name}: no such pair in this session")
        elif pr.armed:
            self.emit("state", f"arm pair {name}: already armed")
        elif self.restart_review is not None or self.restart_left:
            self.alert(f"arm pair {name}: not armed: settle the restart review first")
        else:
            pr.armed = True
            self._record(PairArmed(self.now, name))
            self.emit(
                "state",
                f"pair {name} armed: it trades as the engine's state allows (now {self.state})",
            )

    def remove_pair_refusal(self, name: str) -> str | None:
        """Why the pair ``name`` cannot be taken out now, or None: no such pair, a position
        on a leg (ledger), an order of its own or on its legs in flight, a close pending, a
        position unknown after a refused close, a leg not flat yet (``status``), the
        session's only pair (a session trades at least one; with IBIT shares or the coin
        margin its hedger is the book's: quit instead)."""
        pr = self.pair_named(name)
        if pr is None:
            return "no such pair in this session"
        if len(self.pairs) == 1:
            return "it is the session's only pair (quit to stop trading it)"
        for key in (pr.key_a, pr.key_b):
            qty = self.ledger.position(*key).qty
            if qty != 0:
                return f"{key[0]} {key[1]} holds {qty}: flatten first"
            if key in self.unknown_positions:
                return f"{key[0]} {key[1]}: position unknown until it is read again"
            if key in self.closing:
                return f"{key[0]} {key[1]}: a close is in flight"
        keys = {pr.key_a, pr.key_b}
        mine = [
            cid
            for cid, (intent, owner) in self.live_orders.items()
            if owner is pr or (intent.venue, intent.symbol) in keys
        ]
        if mine:
            return f"order(s) in flight: {', '.join(sorted(mine)[:5])}; wait for them to end"
        if pr.status != "flat":
            return f"the pair is {pr.status}: flatten first"
        return None

    def remove_pair(self, name: str) -> bool:
        """Take the flat pair ``name`` out of the session (:class:`~core.domain.commands.
        RemovePair`): it leaves the pairs, the settings' pairs and the price index; its
        instruments stay (flat) in the ledger and the specs; a ``pair_removed`` record goes to
        the observers. Returns False, with an alert ``remove pair NAME: refused: why``, when
        :meth:`remove_pair_refusal` refuses."""
        why = self.remove_pair_refusal(name)
        if why is not None:
            self.alert(f"remove pair {name}: refused: {why}")
            return False
        pr = self.pair_named(name)
        assert pr is not None  # the refusal above says when there is none
        pr.cancel_ladders()
        self.pairs.remove(pr)
        self.run_time_pairs.discard(name)
        self._index_pair(pr, remove=True)
        self.settings = msgspec.structs.replace(
            self.settings, pairs=tuple(p for p in self.settings.pairs if p.name != name)
        )
        self._book_dirty = True
        legs = [{"venue": k[0], "symbol": k[1]} for k in (pr.key_a, pr.key_b)]
        self._record(PairRemoved(self.now, name, legs))
        self.emit(
            "state",
            f"remove pair {name}: removed ({pr.key_a[0]} {pr.key_a[1]} / {pr.key_b[0]} "
            f"{pr.key_b[1]}); their feeds stay subscribed (market data only, nothing trades "
            "them)",
        )
        return True

    # ----------------------------------------------------------------- restart
    def begin_restart(self, plan: restart.RestartPlan) -> None:
        """Start-up (live) found positions or open orders at the venues: adopt the pairs the
        last run left as they are; anything else waits, HALTED, for the operator's
        :class:`~core.domain.commands.SettleRestart` (:mod:`core.engine.restart`)."""
        for st in plan.adopt:
            restart.adopt(self, st)
        if not plan.questions:
            return
        self.restart_review = plan
        for line in plan.questions:
            self.alert(f"RESTART: {line}")
        self.set_state(
            TradingState.HALTED,
            "restart review: choose adopt, flatten or leave (nothing trades until then)",
        )

    def settle_restart(self, choice: str) -> None:
        """Carry out the operator's answer to :meth:`begin_restart`'s questions."""
        plan = self.restart_review
        if plan is None:
            self.emit("state", "no restart review is pending")
            return
        self.restart_review = None
        if choice == "leave":
            self.restart_left = True
            self.alert("RESTART: left as found; nothing trades this session (restart to review)")
            self.set_state(TradingState.HALTED, "restart review: left as found")
            return
        adopted = {k for st in plan.adopt for k in st.legs}
        for key, qty in plan.held.items():
            if qty != 0 and key not in adopted and key in self.specs:
                reconcile.book_external(self, key, qty - self.ledger.position(*key).qty, "adopt")
        for pr in self.pairs:
            a = self.ledger.position(*pr.key_a).qty
            b = self.ledger.position(*pr.key_b).qty
            if pr.status == "flat" and (a != 0 or b != 0):  # the hedger completes one leg
                pr.status, pr.direction = "open", (1 if a < 0 or b > 0 else -1)
        if self.router is not None:
            for key, cids in plan.orders.items():
                if cids:
                    self.router.cancel_all(*key)
        if choice == "flatten":
            self.set_state(TradingState.REDUCING, "restart review: flatten")
            self.close_everything("flatten")
        else:
            self.set_state(TradingState.DISARMED, "restart review: adopted; arm to trade")

    def record_adoption(self, state: Mapping[str, object]) -> None:
        """Record that a pair was adopted (audit row ``pair_adopted``)."""
        self._record(PairAdopted(self.now, str(state["pair"]), dict(state)))

    def set_stale_venues(self, stale: set[str], why: Mapping[str, str] | None = None) -> None:
        """The venues whose market data is stale now (feed health). A venue going stale is an
        alert (``why[venue]`` says which stream, e.g. ``" (quote silent 6.1 s)"``); one coming
        back is a state line."""
        if stale == self.stale_venues:
            return
        for venue in sorted(stale - self.stale_venues):
            what = (why or {}).get(venue, "")
            self.alert(f"{venue} market data stale{what}: no new entries or adds")
        for venue in sorted(self.stale_venues - stale):
            again = " again" if venue in self._ever_live else ""
            self.emit("state", f"{venue} market data live{again}")
            self._ever_live.add(venue)
        self.stale_venues = set(stale)

    def set_not_trading(self, closed: Mapping[Key, str]) -> None:
        """The instruments whose venue does not trade them now, each with why (e.g.
        ``"status SETTLING (exchangeInfo)"``, ``"not listed"``): a pair with a leg among them
        opens nothing (entries, ladder adds); closes, unwinds and the kill go on. Each one
        that joins is an alert naming the pairs it stops; each that leaves, a state line.
        HAZARDS H23."""
        if dict(closed) == self.not_trading:
            return
        for key in sorted(closed.keys() - self.not_trading.keys()):
            names = [pr.cfg.name for pr in self._pairs_by_key.get(key, ())]
            stops = f": pair {', '.join(names)} opens nothing" if names else ""
            self.alert(f"{key[0]} {key[1]} not trading at the venue ({closed[key]}){stops}")
        for key in sorted(self.not_trading.keys() - closed.keys()):
            self.emit("state", f"{key[0]} {key[1]} trading at the venue again")
        self.not_trading = dict(closed)

    def connect_router(
        self, router: OrderOutlet, on_position_doubt: Callable[[Key], None] | None
    ) -> None:
        """Send orders through ``router`` from now on (live); ``on_position_doubt(key)`` is
        called when a position must be read again from its venue."""
        self.router = router
        self.on_position_doubt = on_position_doubt

    def disconnect_router(self) -> None:
        """The router's connections are closed: nothing more may be sent through it."""
        self.router = None
        self.on_position_doubt = None

    def set_state(self, state: TradingState, why: str) -> None:
        """Change the trading state (logged)."""
        if state is not self.state:
            old, self.state = self.state, state
            self._record(StateChanged(self.now, str(old), str(state), why))
            self.emit("state", f"{old} -> {state} ({why})")

    def close_everything(self, purpose: str) -> None:
        """Cancel pending ladder levels and open orders, and close every position
        reduce-only (one close per leg in flight). The kill switch (live) first cancels every
        open order of the traded symbols at each venue, orders this engine does not know
        included (placed by hand, left by an earlier run)."""
        if purpose == "kill" and self.router is not None:
            for venue, symbol in self.traded_keys():
                self.router.cancel_all(venue, symbol)
        self.cancel_all_orders()
        for pr in self.pairs:
            self.drive(pr, pr.close(purpose))
        for key in self.specs:
            self.close_position(key, purpose, None)
        if purpose in ("flatten", "kill"):
            self._sweep_purpose = purpose

    def close_position(self, key: Key, purpose: str, owner: PairRuntime | None) -> None:
        """Send one reduce-only close of the whole position on ``key`` unless one is already
        in flight or the position is unknown (HAZARDS H8)."""
        pos = self.ledger.position(*key).qty
        if pos == 0 or key in self.closing:
            return
        if key in self.unknown_positions:
            self.alert(f"{key[0]} {key[1]}: position unknown, no close sent until it is read")
            return
        side: Side = "sell" if pos > 0 else "buy"
        self.closing.add(key)
        up = self.send(self._pair_name(key), key, side, abs(pos), True, purpose, None, owner)
        if up.status.final and up.status is not OrderStatus.FILLED:
            self.closing.discard(key)

    def doubt_position(self, key: Key, why: str) -> None:
        """The venue may hold another size than the ledger (a close was refused): send no
        close on ``key`` until :meth:`resolve_position` has the venue's answer (HAZARDS H8)."""
        if key not in self.unknown_positions:
            self.unknown_positions.add(key)
            self.alert(f"{key[0]} {key[1]}: {why}; position unknown until it is read")
            if self.on_position_doubt is not None:
                self.on_position_doubt(key)

    def resolve_position(self, key: Key, venue_qty: Decimal) -> None:
        """The venue's position on ``key`` was read: closes may go again. A size other than
        the ledger's is a position mismatch, acted on by ``[risk] position_mismatch``
        (:func:`core.engine.reconcile.on_mismatch`); an agreeing size lets an interrupted
        close be sent again."""
        self.unknown_positions.discard(key)
        ledger_qty = self.ledger.position(*key).qty
        if venue_qty != ledger_qty:
            reconcile.on_mismatch(self, key, ledger_qty, venue_qty, "re-read")
            return
        for pr in self._pairs_by_key.get(key, ()):
            if pr.status == "closing":
                self.drive(pr, pr.close("exit"))
        if self._sweep_purpose and self.state in SWEEP_STATES:
            self.close_position(key, self._sweep_purpose, None)

    def venue_position(self, key: Key, venue_qty: Decimal, source: str, fills_before: int) -> str:
        """A venue's reading of its position on ``key`` (live): compared with the ledger
        unless an order on it is in flight or a fill was booked since ``fills_before``
        (:data:`fill_counts` when the reading was asked for). Returns ``match``,
        ``mismatch``, ``busy`` or ``unknown`` (:func:`core.engine.reconcile.compare`)."""
        return reconcile.compare(self, key, venue_qty, source, fills_before)

    def pairs_of(self, key: Key) -> tuple[PairRuntime, ...]:
        """The pairs that trade ``key``."""
        return tuple(self._pairs_by_key.get(key, ()))

    def cancel_all_orders(self) -> None:
        """Cancel every order still in flight (entries, adds, hedges) and pending levels."""
        for pr in self.pairs:
            pr.cancel_ladders()
        if self.router is not None:
            for cid, (intent, _) in list(self.live_orders.items()):
                if not intent.reduce_only:
                    self.router.cancel(intent.venue, intent.symbol, cid)

    def cancel_order(self, key: Key, client_order_id: str) -> None:
        """Ask the venue to cancel one order (no-op for the paper venue, which fills at once)."""
        if self.router is not None and client_order_id in self.live_orders:
            self.router.cancel(key[0], key[1], client_order_id)

    def traded_keys(self) -> list[Key]:
        """(venue, symbol) of every instrument a configured pair trades, in order."""
        specs = self.settings.instruments
        return [(specs[i].venue, specs[i].symbol) for i in self.settings.traded_ids()]

    def pair_name(self, key: Key) -> str:
        """The name of the (first) pair trading ``key``, "none" if no pair does."""
        return self._pair_name(key)

    def _pair_name(self, key: Key) -> str:
        prs = self._pairs_by_key.get(key)
        return prs[0].cfg.name if prs else "none"

    # ----------------------------------------------------------------- orders
    def drive(self, owner: PairRuntime, actions: Actions) -> None:
        """Carry out a pair's actions as it yields them (:mod:`core.engine.actions`), sending
        each one's result back into the generator before it goes on."""
        act = next(actions, None)  # most calls yield nothing: no StopIteration to catch then
        try:
            while act is not None:
                act = actions.send(self._act(owner, act))
        except StopIteration:
            return

    def _act(self, owner: PairRuntime, act: Action) -> OrderUpdate | None:
        if isinstance(act, Send):
            closes = act.reduce_only and act.purpose in CLOSES
            if closes:
                self.closing.add(act.key)  # one close per leg in flight, whatever its purpose
            up = self.send(
                owner.cfg.name,
                act.key,
                act.side,
                act.qty,
                act.reduce_only,
                act.purpose,
                act.client_order_id,
                owner,
            )
            if closes and up.status.final and up.status is not OrderStatus.FILLED:
                self.closing.discard(act.key)
            return up
        if isinstance(act, ClosePosition):
            self.close_position(act.key, act.purpose, owner)
        elif isinstance(act, Cancel):
            self.cancel_order(act.key, act.client_order_id)
        else:
            self.alert(act.text)
        return None

    def send(
        self,
        pair: str,
        key: Key,
        side: Side,
        qty: Decimal,
        reduce_only: bool,
        purpose: str,
        client_order_id: str | None = None,
        owner: PairRuntime | None = None,
    ) -> OrderUpdate:
        """Gate, check, write ahead and send one order. Returns its first update: final at
        once from the paper venue (the fill is booked and ``owner`` told before this
        returns), ``NEW`` from a live router (updates follow via :meth:`on_order_update`).
        A refusal by the gate or the venue rules is a REJECTED update; nothing is sent."""
        spec = self.specs[key]
        cid = client_order_id or self.ids.next(pair, key[0], purpose)
        why = gate(self.state, purpose, reduce_only)
        st = self.market.get(*key)
        price = mark_decimal(st) if st.mark is not None else None
        if why is None and price is not None:
            why = check_leg(spec, qty, price, reduce_only)
        if why is None and self.mode == "live" and self.router is None:
            why = NOT_CONNECTED  # live never falls back to the paper venue
        intent = OrderIntent(cid, pair, key[0], key[1], side, qty, reduce_only, purpose, self.now)
        if why is None and reduce_only and purpose in CLOSES:
            self._record_reducing(intent)  # never waits on, nor refused by, the audit log
        elif why is None:
            try:
                for rec in self.recorders:
                    rec.before_send(intent)
            except Exception as exc:  # not durable: not sent
                why = f"audit write-ahead failed: {exc}"
        if why is not None:
            rej = Rejection(cid, key[0], key[1], why, self.now)
            self.rejections.append(rej)
            self._record(rej)
            self.alert(f"order {cid} not sent: {why}")
            up = OrderUpdate(cid, key[0], key[1], OrderStatus.REJECTED, ZERO, self.now, reason=why)
            if owner is not None:
                self.drive(owner, owner.on_update(intent, up))
            return up
        self.live_orders[cid] = (intent, owner)
        if self.router is not None:
            self.router.submit(intent)
            return OrderUpdate(cid, key[0], key[1], OrderStatus.NEW, ZERO, self.now)
        answer = self.venue.submit(intent, price)
        if isinstance(answer, Rejection):
            up = OrderUpdate(
                cid, key[0], key[1], OrderStatus.REJECTED, ZERO, self.now, reason=answer.reason
            )
        else:
            up = OrderUpdate(
                cid, key[0], key[1], OrderStatus.FILLED, answer.qty, self.now, fill=answer
            )
        self.on_order_update(up)
        return up

    def _record_reducing(self, intent: OrderIntent) -> None:
        """Record an order that can only reduce exposure (kill, flatten, unwind, exit
        reduce-only) without waiting for the write-ahead: it is queued, written as soon as
        the log can take it, and the order is sent whatever the log's state. A failing log
        is an alert (file log and console) on every such order."""
        for rec in self.recorders:
            rec.record(intent)
        for rec in self.recorders:
            failure = rec.write_failure() if isinstance(rec, WriteAheadLog) else None
            if failure:
                self.alert(
                    f"AUDIT LOG FAILING ({failure}): {intent.purpose} order "
                    f"{intent.client_order_id} sent without its write-ahead row; it is queued "
                    "until the log can take it; entries and adds are refused meanwhile"
                )

    def on_order_update(self, up: OrderUpdate) -> None:
        """Apply a venue's update: book its fill, tell the owning pair, clear what is final.
        Unknown client ids (not ours, or already final) are logged and ignored."""
        entry = self.live_orders.get(up.client_order_id)
        if entry is None:
            self.alert(f"update for unknown order {up.client_order_id} ({up.status}) ignored")
            return
        intent, owner = entry
        key = (intent.venue, intent.symbol)
        if self.router is not None:
            self._record(up)  # a venue's own answer, with its raw string, for the audit
        if up.fill is not None:
            self._book(up.fill)
        if up.status is OrderStatus.REJECTED:
            rej = Rejection(up.client_order_id, key[0], key[1], up.reason, up.ts_ms)
            self.rejections.append(rej)
            self._record(rej)
            self.alert(f"order {up.client_order_id} rejected by {key[0]}: {up.reason}")
            if intent.reduce_only and self.router is not None:
                self.doubt_position(key, f"reduce-only {intent.purpose} rejected")
        elif (
            up.status is OrderStatus.CANCELLED
            and up.filled_qty == 0
            and intent.reduce_only
            and self.router is not None
        ):  # "would not reduce", or any cancel with nothing filled: the venue may hold none
            self.alert(f"order {up.client_order_id} cancelled by {key[0]}: {up.reason or '-'}")
            self.doubt_position(key, f"reduce-only {intent.purpose} cancelled, nothing filled")
        if up.status.final:
            del self.live_orders[up.client_order_id]
            if intent.reduce_only and intent.purpose in CLOSES:
                self.closing.discard(key)
        if owner is not None:
            self.drive(owner, owner.on_update(intent, up))
        elif up.status.final:  # a close no pair owns (kill, re-hedge): a pair may be flat now
            for pr in self._pairs_by_key.get(key, ()):
                pr.refresh_status()
        if up.fill is not None and self._sweep_purpose and self.state in SWEEP_STATES:
            self.close_position(key, self._sweep_purpose, None)  # a late fill after kill/flatten

    def book_fill(self, fill: Fill) -> None:
        """Book a fill that no order of ours produced (a position change the venue reported:
        :mod:`core.engine.reconcile`)."""
        self._book(fill)

    def _book(self, fill: Fill) -> None:
        key = (fill.venue, fill.symbol)
        self.fill_counts[key] = self.fill_counts.get(key, 0) + 1
        self._record(fill)
        self.ledger.apply_fill(fill, Decimal(repr(self.coin_usd())))
        self._book_dirty = True
        ro = " reduce-only" if fill.reduce_only else ""
        self.emit(
            "fill",
            f"{fill.side.upper()} {fill.qty} {fill.symbol} @ {fill.price} on {fill.venue} "
            f"({fill.purpose}{ro}) fee {fill.fee:.8f} {fill.fee_currency}",
        )
        self._mark_to_market()

    # -------------------------------------------------------------------- log
    def emit(self, kind: str, text: str) -> None:
        """Append a log entry (the snapshot carries the latest ones to the console)."""
        self._seq += 1
        self.log.append(LogEntry(self._seq, self.now, kind, text))

    def alert(self, text: str) -> None:
        """A warning for the operator (log kind ``alert``)."""
        self._record(AlertRaised(self.now, text))
        self.emit("alert", text)

    def error(self, text: str, traceback: str) -> None:
        """An exception the engine caught (logged as an alert, recorded with its traceback)."""
        self._record(ErrorRaised(self.now, text, traceback))
        self.emit("alert", text)

    def record(self, rec: Record) -> None:
        """Hand one record to the observers (audit log, file log, metrics)."""
        self._record(rec)

    def _record(self, rec: Record) -> None:
        for r in self.recorders:
            r.record(rec)
