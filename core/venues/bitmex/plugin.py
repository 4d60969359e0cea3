"""BitMEX as a registered venue that is history (see :mod:`core.venues.registry`).

BitMEX closed for good on 2026-09-23 04:00 UTC (closure announced 2026-07-23; reduce-only from
2026-08-26). Its wire parser (:mod:`core.venues.bitmex.feed`) still plays recorded captures and
its downloads still import and replay; nothing dials it: the plugin has no feed tasks, no
execution and no spec source, and ``--paper``/``--live`` with a BitMEX leg exit 2.
"""

from __future__ import annotations

import datetime as dt

from core.venues.registry import Lifecycle, VenuePlugin


def _ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, tzinfo=dt.UTC).timestamp() * 1000)


PLUGIN = VenuePlugin(
    name="bitmex",
    title="BitMEX",
    lifecycle=Lifecycle(
        reduce_only_from_ms=_ms(2026, 8, 26),
        closed_at_ms=_ms(2026, 9, 23, 4),
        note="closed for good; history only (import, replay, recorded captures)",
    ),
)
