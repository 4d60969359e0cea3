"""Live market data from Binance USD-M and BitMEX over WebSocket, normalised into the engine's
events (:mod:`core.domain.events`), with the resilience a desk needs (HAZARDS H12, H13).

Modules: :mod:`~core.venues.binance.feed` and :mod:`~core.venues.bitmex.feed` (pure ``parse_*``
functions
for each wire message, and the feed of each venue), :mod:`~core.venues.binance.funding` (Binance
fundingInfo / fundingRate over REST), :mod:`~core.venues.bitmex.tables` (the BitMEX keyed
table store), :mod:`~core.feeds.socket` (reconnect, staleness watchdog, planned rotation),
:mod:`~core.feeds.backoff`, :mod:`~core.feeds.health` (per-stream state and per-venue counters
that the engine obeys, the console shows and metrics read), :mod:`~core.feeds.sink` (stamps and
orders events into the engine), :mod:`~core.feeds.recorder` (``--record``),
:mod:`~core.venues.instruments` (contract specs through ccxt) and :mod:`~core.runtime.paper_session`
(``arbtui --paper``), :mod:`~core.runtime.status` (its headless status line). Nothing here
imports textual or rich; wall-clock time is read here only to
stamp events and pace sockets, never in strategy code.
"""
