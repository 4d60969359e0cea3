"""What a pair asks the engine to do: the pair never calls back into the engine.

A pair's decision methods are generators over a read-only :class:`EngineView`; each yields
actions, and the engine carries out every action at the moment it is yielded (so the pair's
next read sees its effect, exactly as a direct call would) and sends its result back into the
generator: the :class:`~core.domain.venue.OrderUpdate` for a :class:`Send`, None otherwise.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from core.domain.config import Settings
from core.domain.ledger import Key, Ledger
from core.domain.market import MarketState
from core.domain.orders import Side
from core.domain.risk import TradingState
from core.domain.venue import OrderUpdate


@dataclass(frozen=True, slots=True)
class Send:
    """One order: gate, checks, write-ahead and the venue are the engine's. A reduce-only
    close (``purpose`` exit/flatten/kill/unwind) counts as the leg's one close in flight.
    The generator gets the order's first :class:`OrderUpdate` back."""

    key: Key
    side: Side
    qty: Decimal
    reduce_only: bool
    purpose: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """Ask the venue to cancel one order of the pair (no-op on the paper venue)."""

    key: Key
    client_order_id: str


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close the whole position on ``key`` reduce-only, unless a close is in flight or the
    position is unknown (HAZARDS H8)."""

    key: Key
    purpose: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning for the operator."""

    text: str


Action = Send | Cancel | ClosePosition | Alert
Actions = Generator[Action, OrderUpdate | None, None]
"""What a pair's decision method returns (see the module docstring)."""


class EngineView(Protocol):
    """What a pair may read of the engine (read-only by contract: the pair changes nothing
    of it; its wishes go out as actions)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def market(self) -> MarketState: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def state(self) -> TradingState: ...
    @property
    def now(self) -> int: ...
    @property
    def equity_usd(self) -> float: ...
    @property
    def closing(self) -> Set[Key]: ...
    @property
    def live_orders(self) -> Mapping[str, object]: ...
    @property
    def stale_venues(self) -> Set[str]: ...
    @property
    def not_trading(self) -> Mapping[Key, str]: ...

    def gross_notional_usd(self) -> Decimal: ...
    def net_delta_btc(self) -> Decimal: ...
    def net_delta_btc_float(self) -> float: ...
    def leg_delta_btc(self, key: Key) -> Decimal: ...
    def book_limit_breach(self, adds: Sequence[tuple[Key, Decimal, Decimal]]) -> str | None: ...
