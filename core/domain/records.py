"""Past-tense records of what the engine did, for observers (audit log, file log, metrics).

The engine calls every registered :class:`Recorder` from its own thread:
``before_send(intent)`` right before an order goes to a venue (it returns only once the intent
is durable; if it raises, the order is not sent), and ``record(rec)`` after everything else
(non-blocking: a recorder queues and batches). An order that can only reduce exposure (kill,
flatten, unwind, exit reduce-only) skips ``before_send``: its intent goes to ``record`` and the
order is sent at once; a :class:`WriteAheadLog` that says it is failing makes that an alert.
Records are frozen; ``ts_ms`` is engine time (event time in replay, wall time live), UTC ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from core.domain.ledger import FundingPayment
from core.domain.orders import Fill, OrderIntent, Rejection
from core.domain.venue import OrderUpdate


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The trading state went from ``old`` to ``new`` because of ``reason``."""

    ts_ms: int
    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """An operator command arrived: ``name`` (Arm, Kill, ...) from ``source`` (user, tty,
    SSH client)."""

    ts_ms: int
    name: str
    source: str


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """A warning for the operator."""

    ts_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    """An exception inside the engine, with its traceback."""

    ts_ms: int
    text: str
    traceback: str


@dataclass(frozen=True, slots=True)
class MarketObserved:
    """A sampled view of one pair's market for metrics: funding rates per hour of each leg,
    the funding spread per hour, the price spread (basis, fraction) and the marks."""

    ts_ms: int
    pair: str
    rate_a_per_hour: float | None
    rate_b_per_hour: float | None
    spread_per_hour: float | None
    basis: float | None


@dataclass(frozen=True, slots=True)
class VenueFundingReported:
    """A venue's own statement of one funding payment on the account (e.g. a Bybit
    ``execution`` row with ``execType`` Funding): kept for the audit and compared with the
    ledger's payment for the same settlement; never a fill, never booked a second time.
    ``amount`` signed, received > 0, in ``currency``; ``position`` signed in the venue's unit;
    ``settlement_ts_ms`` UTC ms; ``raw`` the venue's text. ``rate`` and ``position`` are None
    when the venue's record does not carry them (Binance income rows)."""

    venue: str
    symbol: str
    settlement_ts_ms: int
    rate: Decimal | None
    position: Decimal | None
    amount: Decimal
    currency: str
    raw: str = ""


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    """A venue held another size than the ledger with no order of ours in flight on it
    (liquidation, auto-deleverage, a manual trade, an expired order). ``ledger_qty`` and
    ``venue_qty`` signed in the venue's unit (BTC linear, contracts inverse); ``source``
    where the venue's size came from (``REST read``: the periodic or triggered check,
    ``re-read``: of a doubted position); ``action`` what the engine did (the policy)."""

    ts_ms: int
    venue: str
    symbol: str
    ledger_qty: Decimal
    venue_qty: Decimal
    source: str
    action: str


@dataclass(frozen=True, slots=True)
class PairAdopted:
    """A live run took over a pair the last run left open (``state``: pair, direction,
    opened_ts_ms and per leg venue, symbol, qty, entry_price, anchor, levels_filled; see
    :mod:`core.engine.restart`)."""

    ts_ms: int
    pair: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PairAdded:
    """A pair was added to the session at run time (audit row ``pair_added``): ``pair`` its
    name, ``legs`` the two instruments (``id``, and every :class:`InstrumentSpec` field:
    venue, symbol, kind, contract_size, tick, lot, min_qty, min_notional, fees, settle
    currency, quote; Decimals as strings) and ``max_notional_usd`` its cap per leg (USD);
    ``armed`` False (it starts disarmed); ``settings`` every :class:`PairSettings` field
    (name, leg ids, cap, hedge band, target and wide band; what a restart restores)."""

    ts_ms: int
    pair: str
    legs: list[dict[str, Any]]
    max_notional_usd: Decimal
    armed: bool = False
    settings: dict[str, Any] | None = None
    restored: bool = False
    """True when start-up restored it from the last run's rows (:mod:`core.engine.restart`
    ``added_pairs``), not the operator's scanner."""


@dataclass(frozen=True, slots=True)
class PairArmed:
    """The operator armed a pair added at run time (audit row ``pair_armed``)."""

    ts_ms: int
    pair: str


@dataclass(frozen=True, slots=True)
class PairRemoved:
    """A flat pair was taken out of the session (audit row ``pair_removed``): ``pair`` its
    name, ``legs`` its two instruments as ``{"venue", "symbol"}``."""

    ts_ms: int
    pair: str
    legs: list[dict[str, Any]]


Record = (
    OrderIntent  # only an order that can only reduce exposure (see the module docstring)
    | OrderUpdate
    | Fill
    | Rejection
    | FundingPayment
    | StateChanged
    | CommandReceived
    | AlertRaised
    | ErrorRaised
    | MarketObserved
    | VenueFundingReported
    | PositionMismatch
    | PairAdopted
    | PairAdded
    | PairArmed
    | PairRemoved
)


@runtime_checkable
class WriteAheadLog(Protocol):
    """A recorder that keeps the write-ahead log (the audit log): it can say it is failing."""

    def write_failure(self) -> str | None:
        """Why the log cannot write now (None when it can); never blocks."""


class Recorder(Protocol):
    """An observer of the engine (see the module docstring for the calling rules)."""

    def before_send(self, intent: OrderIntent) -> None:
        """Make ``intent`` durable before it is sent; raise to stop the send."""

    def record(self, rec: Record) -> None:
        """Take one record (must not block)."""
