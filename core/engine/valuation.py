"""Valuation of the engine's book, marked to market: equity (USD), its hourly curve and the
drawdown monitor fed in the same step, the net BTC delta the hedger neutralises, gross notional.

Coin balances and inverse PnL (XBT, BTC) are valued at the mark of the first inverse
instrument configured. The per-event checks use float copies of balances and open positions,
rebuilt only after a fill or a settlement (``_book_dirty``); the Decimal methods are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from core.domain.config import Settings
from core.domain.contracts import ZERO, base_asset, btc_delta, is_coin, notional_usd
from core.domain.events import InstrumentSpec
from core.domain.ledger import Key, Ledger
from core.domain.market import HOUR_MS, InstrumentState, MarketState, mark_decimal
from core.domain.risk import DrawdownMonitor, book_limits_on, check_book


class Valuation:
    """The engine's valuation (a base of :class:`~core.engine.engine.Engine`, which owns the
    attributes declared here and calls ``Valuation.__init__`` once they are set)."""

    settings: Settings
    specs: dict[Key, InstrumentSpec]
    ledger: Ledger
    market: MarketState
    now: int
    dd: DrawdownMonitor
    _last_equity: float | None
    _dd_beyond: bool

    def __init__(self) -> None:
        traded = [self.settings.instruments[i] for i in self.settings.traded_ids()]
        inverse = [
            (s.venue, s.symbol) for s in [*traded, *self.specs.values()] if s.kind == "inverse"
        ]
        self.coin_key = inverse[0] if inverse else None
        """The instrument whose mark values coin balances in USD: the first inverse one a pair
        trades, else the first inverse one configured."""
        self._coin_state = self.market.get(*self.coin_key) if self.coin_key else None
        self.equity_usd = float(
            sum((b for (_, cur), b in self.ledger.balances.items() if not is_coin(cur)), ZERO)
        )
        """Equity in USD, marked to market; before the first price, the cash that needs none."""
        self.equity_curve: list[tuple[int, float]] = []
        """(ts_ms, equity USD), one point per hour of event time."""
        self.start_equity_usd: float | None = None
        self._curve_hour_ms = (1, 0)
        """[start, end) ms of the hour of the last curve point (none yet: an empty range)."""
        self._book_dirty = True
        self._cash_usd = self._cash_xbt = self._extra_delta = 0.0
        self._open: list[tuple[InstrumentState, bool, float, float, bool]] = []
        self._valued: frozenset[InstrumentState] = frozenset()
        """The instruments whose price moves the equity: those of open positions, and the coin
        instrument while a coin amount is held (rebuilt with the book)."""
        self._equity_due = True
        """The book changed since the equity was last computed."""

    def coin_usd(self) -> float:
        """USD per coin (XBT, BTC): the mark of the first inverse instrument (0 if none yet or
        none is configured)."""
        st = self._coin_state  # the market's own state object: always current
        return (st.mark or 0.0) if st is not None else 0.0

    def strategy_pnl_usd(self) -> float:
        """Basis (realised + unrealised at mark) + funding - fees so far, USD: the equity's
        change less the collateral's revaluation (as the report's ``pnl_usd.total``)."""
        led = self.ledger
        total = led.realised_usd + led.funding_usd - led.fees_usd
        if led.has_exposure():
            marks = {
                k: mark_decimal(st)
                for k, st in self.market.instruments.items()
                if st.mark is not None
            }
            total += led.unrealised_usd(marks, Decimal(repr(self.coin_usd())))
        return float(total)

    def coin_margin(self) -> Decimal:
        """Coin (XBT, BTC) balances at every venue, in coin: the margin of inverse legs."""
        return sum((bal for (_, cur), bal in self.ledger.balances.items() if is_coin(cur)), ZERO)

    def _refresh_book(self) -> None:
        """Float copies of balances and open positions for the per-event equity and delta
        checks; rebuilt only after a fill or a settlement changes them."""
        usd = xbt_bal = 0.0
        for (_, cur), bal in self.ledger.balances.items():
            if is_coin(cur):
                xbt_bal += float(bal)
            else:
                usd += float(bal)
        self._cash_usd, self._cash_xbt = usd, xbt_bal
        held = [
            (key, pos)
            for key, pos in self.ledger.positions.items()
            if pos.qty != 0 and pos.entry_price is not None
        ]
        self._open = [
            (
                self.market.get(*key),
                pos.spec.kind == "inverse",
                float(pos.qty * pos.spec.contract_size),
                float(pos.entry_price),  # type: ignore[arg-type]
                is_coin(pos.spec.settle_currency),
            )
            for key, pos in held
        ]
        valued = {st for st, *_ in self._open}
        if self._coin_state is not None and (xbt_bal != 0.0 or any(c for *_, c in self._open)):
            valued.add(self._coin_state)
        self._valued = frozenset(valued)
        self._equity_due = True
        extra = self.settings.ibit.shares * self.settings.ibit.btc_per_share
        if self.settings.hedge.include_coin_margin:
            extra += self.coin_margin()
        self._extra_delta = float(extra)
        self._book_dirty = False

    def net_delta_btc_float(self) -> float:
        """Float twin of :meth:`net_delta_btc` for the per-event hedge check."""
        if self._book_dirty:
            self._refresh_book()
        total = self._extra_delta
        for st, inverse, size, _, _ in self._open:
            if st.mark is not None:
                total += size / st.mark if inverse else size
        return total

    def _revalue(self) -> bool:
        """Mark the book to market and feed the drawdown monitor, in one step: the equity now
        in USD goes to ``equity_usd`` (and, once per hour, to ``equity_curve``) and, when it
        moved, to :attr:`dd` (:meth:`core.domain.risk.DrawdownMonitor.update`). True when the
        drawdown is beyond its limit (the caller stops out); False too while a coin balance
        has no price yet (no equity reading: nothing changes)."""
        if self._book_dirty:
            self._refresh_book()
        st = self._coin_state  # coin_usd() inlined: one call less per event
        xbt = (st.mark or 0.0) if st is not None else 0.0
        equity = self._cash_usd + self._cash_xbt * xbt
        for st, inverse, size, entry, in_xbt in self._open:
            mark = st.mark
            if mark is None:
                continue
            pnl = size * (1 / entry - 1 / mark) if inverse else size * (mark - entry)
            equity += pnl * xbt if in_xbt else pnl
        if xbt == 0.0 and (self._cash_xbt != 0.0 or any(c for *_, c in self._open)):
            return False  # coin amounts not valued yet: no equity reading
        self.equity_usd = equity
        self._equity_due = False
        if self.start_equity_usd is None:
            self.start_equity_usd = equity
        start, end = self._curve_hour_ms
        if not start <= self.now < end:  # a new hour: its curve point
            start = self.now // HOUR_MS * HOUR_MS
            self._curve_hour_ms = (start, start + HOUR_MS)
            self.equity_curve.append((self.now, equity))
        if equity == self._last_equity and not self._dd_beyond:
            return False  # nothing moved the equity: the drawdown is what it was, within the limit
        self._last_equity = equity
        self._dd_beyond = beyond = self.dd.update(equity)
        return beyond

    def net_delta_btc(self) -> Decimal:
        """Net BTC delta: every position (inverse at its mark) + the coin margin held for
        inverse legs if ``hedge.include_coin_margin`` + IBIT shares x BTC per share."""
        marks = {
            k: mark_decimal(st) for k, st in self.market.instruments.items() if st.mark is not None
        }
        total = self.ledger.net_delta_btc(marks)
        if self.settings.hedge.include_coin_margin:
            total += self.coin_margin()
        ibit = self.settings.ibit
        return total + ibit.shares * ibit.btc_per_share

    def net_delta_by_asset(self) -> dict[str, Decimal]:
        """The book's net delta in each asset it holds, in that asset's units (BTC, XRP; by
        :func:`~core.domain.contracts.base_asset`; inverse at the mark): BTC with the coin
        margin if ``hedge.include_coin_margin`` and the IBIT shares, as :meth:`net_delta_btc`."""
        out: dict[str, Decimal] = {}
        for key, pos in self.ledger.positions.items():
            st = self.market.get(*key)
            if pos.qty != 0 and st.mark is not None:
                asset = base_asset(pos.spec)
                out[asset] = out.get(asset, ZERO) + btc_delta(pos.spec, pos.qty, mark_decimal(st))
        extra = self.settings.ibit.shares * self.settings.ibit.btc_per_share
        if self.settings.hedge.include_coin_margin:
            extra += self.coin_margin()
        if extra:
            out["BTC"] = out.get("BTC", ZERO) + extra
        return out

    def gross_notional_usd(self) -> Decimal:
        """Sum of |notional| of all positions in USD at their marks."""
        total = ZERO
        for key, pos in self.ledger.positions.items():
            st = self.market.get(*key)
            if pos.qty != 0 and st.mark is not None:
                total += notional_usd(pos.spec, pos.qty, mark_decimal(st))
        return total

    def book_limit_breach(self, adds: Sequence[tuple[Key, Decimal, Decimal]]) -> str | None:
        """Why orders adding ``adds`` ((key, unsigned qty in the venue's unit, price)) would
        breach a book or venue limit of ``[risk]`` (None: they would not, or no limit is
        set): :func:`core.domain.risk.check_book` on the book as it is now."""
        risk = self.settings.risk
        if not book_limits_on(risk):
            return None
        coin = Decimal(repr(self.coin_usd()))
        notional: dict[str, Decimal] = {}
        equity: dict[str, Decimal] = {}
        for (venue, cur), bal in self.ledger.balances.items():
            equity[venue] = equity.get(venue, ZERO) + (bal * coin if is_coin(cur) else bal)
        for (venue, symbol), pos in self.ledger.positions.items():
            st = self.market.get(venue, symbol)
            if pos.qty == 0 or st.mark is None:
                continue
            mark = mark_decimal(st)
            notional[venue] = notional.get(venue, ZERO) + notional_usd(pos.spec, pos.qty, mark)
            upnl = pos.unrealised(mark)
            equity[venue] += upnl * coin if is_coin(pos.spec.settle_currency) else upnl
        add: dict[str, Decimal] = {}
        for key, qty, price in adds:
            add[key[0]] = add.get(key[0], ZERO) + notional_usd(self.specs[key], qty, price)
        return check_book(risk, sum(notional.values(), ZERO), add, notional, equity)

    def leg_delta_btc(self, key: Key) -> Decimal:
        """BTC delta of one position at its mark (0 without a price)."""
        pos = self.ledger.position(*key)
        st = self.market.get(*key)
        if pos.qty == 0 or st.mark is None:
            return ZERO
        return btc_delta(pos.spec, pos.qty, mark_decimal(st))
