"""Live order execution: ccxt venues, the order state machine, routers and the Redis queue.

Layout (one role per module):

- :mod:`core.execution.state`: :class:`~core.execution.state.Report` (what a venue said, from
  REST or a user stream) and :class:`~core.execution.state.OrderBook`, the per-process order
  state machine that turns reports into the engine's :class:`~core.domain.venue.OrderUpdate` values
  (fills are increases of the cumulative filled quantity, so a fill is never counted twice).
- :mod:`core.execution.limits`: one rate limiter per venue per process (Retry-After, Binance
  418 bans, Bybit ``X-Bapi-Limit-*`` headers).
- :mod:`core.venues.ccxt_base`, :mod:`~core.venues.binance.execution`,
  :mod:`~core.venues.bybit.execution`: the venues over ccxt 4.5.90 (nothing overridden).
- :mod:`core.venues.private_stream`: the private order stream each venue builds on.
- :mod:`core.execution.executor`: send one intent; UNKNOWN -> look up before any resend.
- :mod:`core.execution.router`: the router interface (assembled by :mod:`core.runtime.execution`);
  :mod:`~core.execution.inprocess` and :mod:`~core.execution.redis_router` implement it;
  :mod:`~core.execution.redis_queue` is the reliable queue; :mod:`~core.execution.worker`
  the executor process (``arbtui worker``, :mod:`~tui.commands.worker`).

Nothing here imports textual or rich, the engine or the pair logic.
"""
