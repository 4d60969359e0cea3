"""Feed health joined to the engine and the metrics: the board's stale venues become the
engine's, and each venue's silence and reconnects reach Prometheus (HAZARDS H13)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from core.feeds.health import HealthBoard
from core.observe.metrics import Metrics

if TYPE_CHECKING:
    from core.engine.engine import Engine


def report_metrics(
    board: HealthBoard, metrics: Metrics, reported: dict[str, int], now: float
) -> None:
    """Push feed health into the metrics: per venue the longest silence of its streams
    (seconds) and the reconnects since the last call (``reported`` keeps the counts sent)."""
    for venue, stats in board.venues.items():
        silences = [st.silent_s(now) for st in board.streams.values() if st.venue == venue]
        metrics.set_feed_staleness(venue, max(silences, default=0.0))
        new = stats.reconnects - reported.get(venue, 0)
        if new > 0:
            metrics.inc_reconnects(venue, new)
            reported[venue] = stats.reconnects


async def enforce(
    board: HealthBoard, engine: Engine, metrics: Metrics | None, every_s: float = 0.1
) -> None:
    """Keep the engine's stale venues equal to the board's (runs on the engine's loop until
    cancelled); each change is logged by the engine, a venue going stale as an alert."""
    engine.set_stale_venues(board.stale_venues())  # nothing is opened before data arrives
    reported: dict[str, int] = {}
    while True:
        now = board.monotonic()
        if metrics is not None:
            report_metrics(board, metrics, reported, now)
        stale = board.stale_venues(now)
        if stale != engine.stale_venues:
            why = {}
            for venue in stale:
                worst = board.worst(venue, now)
                why[venue] = f" ({worst[0]} silent {worst[1]:.1f} s)" if worst else ""
            engine.set_stale_venues(stale, why)
        await asyncio.sleep(every_s)
