"""Risk: trading states, the order gate, pre-trade checks and the drawdown monitor.

States (DESIGN "Risk and operator control"): DISARMED (start-up default, watch only) ->
ARMED (may open and add) -> PAUSED (no new entries or adds; hedging and exits continue) ->
REDUCING (only orders that shrink exposure) -> HALTED (nothing is sent until the operator
re-arms). Operator flatten and kill orders are reduce-only and pass in every state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.domain.config import RiskSettings
from core.domain.contracts import ZERO, notional_usd
from core.domain.events import InstrumentSpec

OPENING = frozenset({"entry", "ladder"})
OPERATOR = frozenset({"flatten", "kill"})


class TradingState(StrEnum):
    """The engine's trading state."""

    DISARMED = "DISARMED"
    ARMED = "ARMED"
    PAUSED = "PAUSED"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


def gate(state: TradingState, purpose: str, reduce_only: bool) -> str | None:
    """Why an order of ``purpose`` may not be sent in ``state`` (None = it may).

    purposes: entry, ladder (open or add), hedge, exit, unwind (strategy reductions),
    flatten, kill (operator; always reduce-only).
    """
    if purpose in OPERATOR:
        return None if reduce_only else f"{purpose} orders must be reduce-only"
    if state in (TradingState.DISARMED, TradingState.HALTED):
        return f"trading state {state}: nothing is sent"
    if state is TradingState.REDUCING and not reduce_only:
        return "trading state REDUCING: only reduce-only orders"
    if state is TradingState.PAUSED and purpose in OPENING:
        return "trading state PAUSED: no entries or adds"
    return None


def check_leg(spec: InstrumentSpec, qty: Decimal, price: Decimal, reduce_only: bool) -> str | None:
    """Venue rules for one order (HAZARDS H6, H7). ``qty`` unsigned, already on the lot grid.

    A quantity of 0 never reaches a venue; a reduce-only close is exempt from the minimum
    quantity and notional (it may close a residual below them).
    """
    where = f"{spec.venue} {spec.symbol}"
    if qty <= 0:
        return f"{where}: quantity rounds to 0 (lot {spec.lot})"
    if qty % spec.lot != 0:
        return f"{where}: quantity {qty} is not a whole number of lots ({spec.lot})"
    if reduce_only:
        return None
    if qty < spec.min_qty:
        return f"{where}: quantity {qty} below the minimum {spec.min_qty}"
    notional = notional_usd(spec, qty, price)
    if spec.min_notional and notional < spec.min_notional:
        return f"{where}: notional {notional:.2f} below the minimum {spec.min_notional}"
    return None


def book_limits_on(risk: RiskSettings) -> bool:
    """True when a book or venue limit is configured (both are off at 0)."""
    return risk.max_book_notional_usd > 0 or risk.max_venue_margin_pct > 0


def check_book(
    risk: RiskSettings,
    gross_usd: Decimal,
    add_usd: Mapping[str, Decimal],
    venue_notional_usd: Mapping[str, Decimal],
    venue_equity_usd: Mapping[str, Decimal],
) -> str | None:
    """Why an entry or a ladder add may not go (None = it may): the book and venue limits of
    ``[risk]`` after the order (:class:`~core.domain.config.RiskSettings`).

    ``gross_usd``: the book's gross notional now (USD, every position at its mark);
    ``add_usd``: the notional the order adds per venue (an entry's two legs, or a ladder add
    and the hedge that completes it), USD; ``venue_notional_usd`` / ``venue_equity_usd``: each
    venue's gross notional and equity now (balances, a coin at its mark, plus unrealised PnL;
    USD). The reason names the limit and the figures. Only orders that add exposure are
    checked: reduce-only orders and hedges never come here."""
    added = sum(add_usd.values(), ZERO)
    cap = risk.max_book_notional_usd
    if cap > 0 and gross_usd + added > cap:
        return (
            f"book limit risk.max_book_notional_usd: gross notional {gross_usd:,.2f} + "
            f"{added:,.2f} = {gross_usd + added:,.2f} USD > {cap:,.2f} USD"
        )
    pct = risk.max_venue_margin_pct
    if pct <= 0:
        return None
    lev = Decimal(repr(risk.venue_leverage))
    for venue in sorted(add_usd):
        now = venue_notional_usd.get(venue, ZERO) / lev
        after = now + add_usd[venue] / lev
        equity = venue_equity_usd.get(venue, ZERO)
        used = after / equity * 100 if equity > 0 else None
        if used is None or used > Decimal(repr(pct)):
            share = "no equity" if used is None else f"{used:.2f} % of its equity"
            return (
                f"venue limit risk.max_venue_margin_pct on {venue}: initial margin "
                f"{now:,.2f} + {after - now:,.2f} = {after:,.2f} USD (notional / "
                f"{risk.venue_leverage:g}x) is {share} {equity:,.2f} USD > {pct:g} %"
            )
    return None


@dataclass(slots=True)
class DrawdownMonitor:
    """Peak-to-now drawdown of equity (USD). ``breached`` once it exceeds ``limit_pct``.
    The engine keeps one, on the whole book's equity (every pair, every venue): its stop-out
    flattens every pair and HALTs (:meth:`core.engine.engine.Engine._mark_to_market`)."""

    limit_pct: float
    peak_usd: float = 0.0
    drawdown_pct: float = 0.0
    max_drawdown_pct: float = 0.0

    def update(self, equity_usd: float) -> bool:
        """Feed the latest equity; True when the drawdown is beyond the limit."""
        if equity_usd > self.peak_usd:
            self.peak_usd = equity_usd
        dd = (self.peak_usd - equity_usd) / self.peak_usd * 100 if self.peak_usd > 0 else 0.0
        self.drawdown_pct = dd
        if dd > self.max_drawdown_pct:
            self.max_drawdown_pct = dd
        return dd > self.limit_pct
