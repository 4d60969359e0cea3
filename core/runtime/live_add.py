"""A pair added at run time in a live session (issue 14): before the engine takes it, each new
instrument passes at its venue what a live start-up checks for the configured ones, and the
order path learns it.

In order (:func:`admit`; the first step that fails refuses the pair, naming the step, and
nothing is left learnt):

1. **instrument check** (``LiveVenue.check_instrument``, as ``start`` does): listed, the
   venue's quantity step equal to the spec's lot, linear/inverse as given, the account in
   one-way position mode (Binance ``dualSidePosition``; Bybit position rows of the symbol);
2. **position and open orders** at the venue: a position there is one arbtui does not know
   (start-up would have asked the operator about it: :mod:`core.engine.restart`), so the pair
   is refused naming it (close it at the venue, or start with a config that has the pair, so
   that start-up's review takes it); an open order on the symbol likewise;
3. **the order path learns it** (``OrderRouter.learn``): the venues and the order book (fees,
   fills, the private streams' rows) and, with the Redis queue, every intent on it carries the
   spec to the workers (:class:`~core.execution.redis_queue.Envelope`).

The session's checks (:mod:`core.runtime.live_watch`: position reads, the dead-man switch,
funding income) go over the engine's traded instruments each round, so they cover the new
ones once the engine has added the pair; the private streams are account-wide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.domain.events import InstrumentSpec
from core.execution.router import OrderRouter

if TYPE_CHECKING:
    from core.venues.ccxt_base import LiveVenue


async def admit(
    router: OrderRouter, venues: Mapping[str, LiveVenue], specs: list[InstrumentSpec]
) -> str | None:
    """Check ``specs`` at their venues and teach them to ``router`` (module docstring).
    Returns None once the order path trades them, else why not (the step that failed, for the
    alert ``add pair NAME: refused: why``)."""
    for spec in specs:
        venue = venues.get(spec.venue)
        if venue is None:
            return f"{spec.venue} has no execution client in this session"
        try:
            await venue.check_instrument(spec)
        except Exception as exc:
            return f"instrument check at {spec.venue} failed: {exc}"
    learnt = [(spec, venues[spec.venue].learn(spec)) for spec in specs]  # the reads need them
    why = await _nothing_held(venues, specs)
    if why is not None:
        for spec, old in reversed(learnt):
            venues[spec.venue].unlearn(spec, old)
        return why
    for spec in specs:
        router.learn(spec)
    return None


async def _nothing_held(venues: Mapping[str, LiveVenue], specs: list[InstrumentSpec]) -> str | None:
    """Why a position or an open order at the venue stops ``specs`` from being added, or
    None when there is neither."""
    for spec in specs:
        venue = venues[spec.venue]
        where = f"{spec.venue} {spec.symbol}"
        try:
            qty = await venue.position(spec.symbol)
        except Exception as exc:
            return f"position read at {where} failed: {exc}"
        if qty != 0:
            return (
                f"{where} holds {qty} at the venue, a position arbtui does not know: close it "
                "there (or start with a config that has the pair, so that start-up reviews "
                "it), then add the pair again"
            )
        try:
            cids = await venue.open_orders(spec.symbol)
        except Exception as exc:
            return f"open-order read at {where} failed: {exc}"
        if cids:
            shown = ", ".join(cids[:5]) + (" ..." if len(cids) > 5 else "")
            return (
                f"{where} has {len(cids)} open order(s) arbtui does not know ({shown}): "
                "cancel them at the venue, then add the pair again"
            )
    return None
