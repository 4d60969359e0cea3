"""What a pending ladder level would add (core/domain/ladder.py ``plan_pending``), as the console
shows it: base notional x the level's multiplier, cut to the room the leg's notional cap leaves
at the level's trigger price once the position and the levels before it are held; a level the
cap leaves no room a venue accepts is ``over cap``, never "pending". The spec is the real
Binance XRPUSDT (tests/data/three_pairs.toml: tick 0.0001, lot 0.1, min notional 5 USDT)."""

from __future__ import annotations

from decimal import Decimal

from core.domain.config import LadderSettings
from core.domain.events import InstrumentSpec
from core.domain.ladder import Ladder, PlannedLevel, plan_pending

XRP = InstrumentSpec(
    venue="binance", symbol="XRPUSDT", kind="linear", contract_size=Decimal(1),
    tick=Decimal("0.0001"), lot=Decimal("0.1"), min_qty=Decimal("0.1"), min_notional=Decimal(5),
)  # fmt: skip
BASE = Decimal(10_000)
CAP = Decimal(15_000)


def anchored(side: int) -> Ladder:
    lad = Ladder.build("binance", "XRPUSDT", side, LadderSettings())
    lad.anchor(1.0, Decimal(10_000), 10_000.0)  # 10,000 XRP at 1.0000: 10,000 USD
    return lad


def test_a_short_legs_levels_past_the_cap_are_over_cap() -> None:
    """A short leg adds as the price rises, so its position is worth more at each trigger:
    level 1 at 1.03 has 15,000 - 10,300 = 4,700 USD of room (4,563.1 XRP); then 14,563.1
    XRP at 1.06 are 15,436.89 USD, over the cap: levels 2 to 4 are never placed."""
    plan = plan_pending(anchored(-1), XRP, Decimal(-10_000), BASE, CAP)
    assert plan == {
        1: PlannedLevel(Decimal("4563.1"), Decimal("4700.00")),
        2: PlannedLevel(Decimal(0), Decimal(0), True),
        3: PlannedLevel(Decimal(0), Decimal(0), True),
        4: PlannedLevel(Decimal(0), Decimal(0), True),
    }


def test_a_long_legs_levels_keep_the_room_a_falling_price_frees() -> None:
    """A long leg adds as the price falls: what it holds is worth less at each lower trigger,
    so levels past the cap still get the room that frees (as the three-pair replay's Binance
    XRP leg filled 413.7 and 442.6 XRP at levels 2 and 3)."""
    plan = plan_pending(anchored(1), XRP, Decimal(10_000), BASE, CAP)
    # level 1 at 0.97: 15,000 - 9,700 = 5,300 USD, 5,463.9 XRP
    # level 2 at 0.94: 15,000 - 15,463.9 x 0.94 = 463.934 USD, 493.5 XRP
    # level 3 at 0.90: 15,000 - 15,957.4 x 0.90 = 638.34 USD, 709.2 XRP
    # level 4 at 0.85: 15,000 - 16,666.6 x 0.85 = 833.39 USD, 980.4 XRP
    assert plan == {
        1: PlannedLevel(Decimal("5463.9"), Decimal("5300.00")),
        2: PlannedLevel(Decimal("493.5"), Decimal("463.934")),
        3: PlannedLevel(Decimal("709.2"), Decimal("638.34")),
        4: PlannedLevel(Decimal("980.4"), Decimal("833.390")),
    }


def test_without_the_cap_binding_a_level_plans_its_full_size() -> None:
    plan = plan_pending(anchored(1), XRP, Decimal(10_000), BASE, Decimal(1_000_000))
    assert plan[1] == PlannedLevel(Decimal("10309.2"), Decimal("10000"))  # 10,000 / 0.97
    assert plan[4] == PlannedLevel(Decimal("29411.7"), Decimal("25000.0"))  # 25,000 / 0.85
