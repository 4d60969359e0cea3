"""The funding-arb signal of one pair: spread per hour, EMAs, entry and exit conditions.

Rates are compared per hour (HAZARDS H1). The long leg sits on the venue with the lower rate,
the short leg on the higher. Entry edge over a horizon of H hours, as a fraction of notional:

    edge = |spread per hour| x H - 2 x (taker_a + taker_b) - basis paid to cross

where basis paid = (price of the long leg - price of the short leg) / mid (negative = a gain).
Observations are taken on a sim-time grid (``observe_every_s``), never per event.

Exit, net of what leaving costs now: an observation counts towards an exit when

    (exit threshold per hour - held spread per hour) x H > taker_a + taker_b + basis given up

where basis given up = (price of the short leg - price of the long leg) / mid (closing sells
the long leg and buys the short one; a basis that would converge in the position's favour is
a cost of leaving now). The exit threshold lies below the entry's (hysteresis, checked in the
config); the condition must hold ``exit_observations`` times in a row, and the pair holds at
least ``min_hold_hours`` (:meth:`PairSignal.wants_exit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.domain.config import StrategySettings
from core.domain.events import InstrumentSpec
from core.domain.market import HOURS_PER_YEAR


class Observed(Protocol):
    """What the signal reads of an instrument: its mark (price, None before the first) and
    its next funding rate per hour (fraction, None before the first):
    :class:`core.domain.market.InstrumentState`, or a backtest's row as the engine saw it
    (:mod:`core.analysis.backtest.bt_strategy`)."""

    @property
    def mark(self) -> float | None: ...

    def rate_per_hour(self) -> float | None: ...


@dataclass(slots=True)
class Reading:
    """The signal now. ``direction`` +1 = short leg a / long leg b, -1 = the reverse, 0 unknown.
    ``spread_per_hour`` = rate per hour of a minus b; ``edge`` and ``basis`` are fractions."""

    spread_per_hour: float | None = None
    direction: int = 0
    basis: float | None = None
    edge: float | None = None


class PairSignal:
    """Signal state of one pair: EMAs of the spread and consecutive-observation counters."""

    def __init__(
        self, cfg: StrategySettings, spec_a: InstrumentSpec, spec_b: InstrumentSpec
    ) -> None:
        self.cfg = cfg
        self.round_trip_fees = 2 * float(spec_a.taker_fee + spec_b.taker_fee)
        self.ema_fast: float | None = None
        self.ema_slow: float | None = None
        self.observations = 0
        self.entry_count = 0
        self.entry_direction = 0
        self.exit_count = 0
        self.last = Reading()
        self._alpha_fast = 2.0 / (cfg.ema_fast + 1)
        self._alpha_slow = 2.0 / (cfg.ema_slow + 1)
        self._exit_per_hour = cfg.exit_apr_pct / 100.0 / HOURS_PER_YEAR

    def read(self, a: Observed, b: Observed) -> Reading:
        """The current spread, direction, basis and entry edge (no state change)."""
        ra, rb = a.rate_per_hour(), b.rate_per_hour()
        if ra is None or rb is None:
            return Reading()
        spread = ra - rb
        direction = 1 if spread > 0 else -1 if spread < 0 else 0
        basis = edge = None
        if a.mark is not None and b.mark is not None and direction:
            long_px, short_px = (b.mark, a.mark) if direction > 0 else (a.mark, b.mark)
            basis = (long_px - short_px) / ((long_px + short_px) / 2)
            edge = abs(spread) * self.cfg.holding_hours - self.round_trip_fees - basis
        return Reading(spread, direction, basis, edge)

    def observe(self, a: Observed, b: Observed, held_direction: int) -> Reading:
        """Take one observation: update EMAs and the entry/exit counters.

        ``held_direction`` is the direction of the open position (0 when flat); the exit
        counter counts observations where the carry in that direction is below the exit APR.
        """
        r = self.read(a, b)
        self.last = r
        if r.spread_per_hour is None:
            return r
        self.observations += 1
        s = r.spread_per_hour
        if self.ema_fast is None or self.ema_slow is None:
            self.ema_fast = self.ema_slow = s
        else:
            self.ema_fast += self._alpha_fast * (s - self.ema_fast)
            self.ema_slow += self._alpha_slow * (s - self.ema_slow)
        if r.edge is not None and r.edge * 100 >= self.cfg.entry_edge_pct:
            same = r.direction == self.entry_direction
            self.entry_count = self.entry_count + 1 if same else 1
            self.entry_direction = r.direction
        else:
            self.entry_count = 0
            self.entry_direction = 0
        shortfall = self.leave_edge(a, b, held_direction)
        if shortfall is not None and shortfall > 0:
            self.exit_count += 1
        else:
            self.exit_count = 0
        return r

    def leave_edge(self, a: Observed, b: Observed, held_direction: int) -> float | None:
        """What leaving now gains as a fraction of notional: the held carry's shortfall below
        the exit threshold over ``holding_hours``, minus both legs' exit taker fees and the
        basis given up by crossing (module docstring). > 0 means leave; None when flat or
        without rates and prices."""
        ra, rb = a.rate_per_hour(), b.rate_per_hour()
        if not held_direction or ra is None or rb is None or a.mark is None or b.mark is None:
            return None
        held = (ra - rb) * held_direction
        long_px, short_px = (b.mark, a.mark) if held_direction > 0 else (a.mark, b.mark)
        given_up = (short_px - long_px) / ((long_px + short_px) / 2)
        shortfall = (self._exit_per_hour - held) * self.cfg.holding_hours
        return shortfall - self.round_trip_fees / 2 - given_up

    def ema_confirms(self, direction: int) -> bool:
        """True when the EMA filter is off, or fast >= slow in ``direction``."""
        if not self.cfg.use_ema_filter:
            return True
        if self.ema_fast is None or self.ema_slow is None:
            return False
        return self.ema_fast * direction >= self.ema_slow * direction

    def wants_entry(self) -> int:
        """The direction to enter (+1/-1) once the edge held long enough, else 0."""
        if self.entry_count >= self.cfg.observations and self.ema_confirms(self.entry_direction):
            return self.entry_direction
        return 0

    def break_even_days(self, a: Observed, b: Observed, held_direction: int) -> float | None:
        """Days the carry at the current spread needs to pay what is still to pay: held, both
        legs' exit fees and the basis given up on leaving; flat, the round trip's fees and the
        basis paid to cross on entry (in the spread's direction). 0 when a basis gain covers
        the costs; None when the carry earns nothing in that direction (never) or rates or
        prices are missing. Fractions of notional over the carry per day (spread x 24 h)."""
        ra, rb = a.rate_per_hour(), b.rate_per_hour()
        if ra is None or rb is None or a.mark is None or b.mark is None:
            return None
        direction = held_direction or (1 if ra > rb else -1 if ra < rb else 0)
        if not direction:
            return None
        carry_per_day = (ra - rb) * direction * 24
        long_px, short_px = (b.mark, a.mark) if direction > 0 else (a.mark, b.mark)
        basis = (long_px - short_px) / ((long_px + short_px) / 2)
        if held_direction:  # leaving: the exit half of the fees, the basis given up
            cost = self.round_trip_fees / 2 - basis
        else:  # entering and leaving: all the fees, the basis paid to cross
            cost = self.round_trip_fees + basis
        if carry_per_day <= 0:
            return None
        return max(cost, 0.0) / carry_per_day

    def wants_exit(self, held_hours: float) -> bool:
        """True once leaving gained more than it costs (:meth:`leave_edge`) for
        ``exit_observations`` observations in a row, and the position is at least
        ``min_hold_hours`` old (``held_hours``: since the pair opened)."""
        if held_hours < self.cfg.min_hold_hours:
            return False
        return self.exit_count >= self.cfg.exit_observations
