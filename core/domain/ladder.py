"""DCA ladders: levels at preset percentage deltas from a leg's first fill, and level sizing.

A long leg adds as price falls (trigger = first x (1 - delta)), a short leg as price rises
(trigger = first x (1 + delta)). A level's notional is ``base x multiplier x vol_scale``,
where ``vol_scale = clamp(target_vol / realised_vol, min_scale, 1)``, then capped by the leg's
and the pair's notional limits and by free capital (the caller passes the room left).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.config import LadderSettings, SizingSettings
from core.domain.contracts import ZERO, floor_to_lot, notional_usd, qty_for_notional
from core.domain.events import InstrumentSpec
from core.domain.risk import check_leg


@dataclass(slots=True)
class Level:
    """One level. ``status``: pending, filled, skipped, cancelled. ``size`` in the venue's unit
    once filled (or skipped with 0)."""

    index: int
    delta_pct: float
    multiplier: float
    trigger_price: float | None = None
    size: Decimal | None = None
    size_usd: float | None = None
    status: str = "pending"


@dataclass(slots=True)
class Ladder:
    """The ladder of one leg; ``side`` +1 long, -1 short; ``first_fill`` sets the triggers."""

    venue: str
    symbol: str
    side: int
    levels: list[Level] = field(default_factory=list)
    first_fill: float | None = None

    @classmethod
    def build(cls, venue: str, symbol: str, side: int, cfg: LadderSettings) -> Ladder:
        """Fresh levels from the config (level 0 is the entry)."""
        levels = [
            Level(i, d, m)
            for i, (d, m) in enumerate(zip(cfg.deltas_pct, cfg.multipliers, strict=True))
        ]
        return cls(venue, symbol, side, levels)

    def anchor(self, first_fill_price: float, size: Decimal, size_usd: float) -> None:
        """Record the entry (level 0) and set every trigger from its price."""
        self.first_fill = first_fill_price
        for lvl in self.levels:
            lvl.trigger_price = first_fill_price * (1 - self.side * lvl.delta_pct / 100)
        lvl0 = self.levels[0]
        lvl0.status, lvl0.size, lvl0.size_usd = "filled", size, size_usd

    def triggered(self, price: float) -> Level | None:
        """The first pending level whose trigger ``price`` has reached, else None."""
        for lvl in self.levels:
            if lvl.status != "pending" or lvl.trigger_price is None:
                continue
            hit = price <= lvl.trigger_price if self.side > 0 else price >= lvl.trigger_price
            return lvl if hit else None
        return None

    def cancel_pending(self) -> None:
        """Cancel every pending level (flatten, kill, exit)."""
        for lvl in self.levels:
            if lvl.status == "pending":
                lvl.status = "cancelled"


def vol_scale(realised_vol: float | None, cfg: SizingSettings) -> float:
    """Size multiplier from realised volatility (fraction, annualised); 1 when unknown."""
    if realised_vol is None or realised_vol <= 0:
        return 1.0
    return max(cfg.min_scale, min(1.0, cfg.vol_target_pct / 100 / realised_vol))


def level_notional_usd(
    level: Level, cfg: SizingSettings, scale: float, room_usd: Decimal
) -> Decimal:
    """Notional for ``level``: base x multiplier x scale, capped at ``room_usd`` (>= 0)."""
    want = cfg.base_notional_usd * Decimal(repr(level.multiplier)) * Decimal(repr(scale))
    return max(Decimal(0), min(want, room_usd))


@dataclass(frozen=True, slots=True)
class PlannedLevel:
    """What a pending level would add when its trigger is reached: ``qty`` in the venue's
    unit (on the lot grid) and ``usd`` its notional in USD; ``over_cap``: the leg's notional
    cap leaves no room a venue would accept (``qty`` and ``usd`` 0): the level is never
    placed while the cap and the position stay as they are."""

    qty: Decimal
    usd: Decimal
    over_cap: bool = False


def plan_pending(
    ladder: Ladder,
    spec: InstrumentSpec,
    held_qty: Decimal,
    base_usd: Decimal,
    cap_usd: Decimal,
) -> dict[int, PlannedLevel]:
    """The planned size of each pending level of ``ladder`` (by level index), in order: base
    notional ``base_usd`` x the level's multiplier, capped at the room the leg's notional cap
    ``cap_usd`` (USD, the pair's and ``[sizing] leg_max_notional_usd``, the smaller) leaves
    at the level's trigger price once the position ``held_qty`` (venue unit, either sign) and
    the levels before it are held, floored to the lot. A capped level too small for the
    venue's minimums (:func:`core.domain.risk.check_leg`) is ``over_cap``. As the engine sizes
    an add (``PairRuntime._ladder_adds``), before the volatility scale and the free-capital
    limit (both known only when the level triggers)."""
    held = abs(held_qty)
    out: dict[int, PlannedLevel] = {}
    for lvl in ladder.levels:
        if lvl.status != "pending" or lvl.trigger_price is None or lvl.trigger_price <= 0:
            continue
        price = Decimal(repr(lvl.trigger_price))
        want = base_usd * Decimal(repr(lvl.multiplier))
        room = max(ZERO, cap_usd - notional_usd(spec, held, price))
        usd = min(want, room)
        qty = floor_to_lot(spec, qty_for_notional(spec, usd, price))
        if usd < want and check_leg(spec, qty, price, False):
            out[lvl.index] = PlannedLevel(ZERO, ZERO, True)
            continue
        out[lvl.index] = PlannedLevel(qty, usd)
        held += qty
    return out
