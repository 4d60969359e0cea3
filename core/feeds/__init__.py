"""The plumbing every venue's live market data goes through, normalised into the engine's
events (:mod:`core.domain.events`), with the resilience a desk needs (HAZARDS H12, H13) and the
feed rules every venue meets (:mod:`~core.feeds.rules`: subscribed streams only, nothing older
than the last applied frame, venue errors logged with their text, limited by time).

Modules here: :mod:`~core.feeds.socket` (reconnect, staleness watchdog, heartbeats, planned
rotation, backoff of connections that fail right after each reconnect),
:mod:`~core.feeds.backoff`, :mod:`~core.feeds.rules`, :mod:`~core.feeds.health` (per-stream
state and per-venue counters that the engine obeys, the console shows and metrics read; the
time-limited log), :mod:`~core.feeds.sink` (stamps and orders events into the engine),
:mod:`~core.feeds.recorder` (``--record``), :mod:`~core.feeds.together`.

Each venue's own parsing and feed lives in its package (``core/venues/<name>/feed.py``, with
pure ``parse_*`` functions for each wire message; REST funding readers beside it); contract
specs come through :mod:`~core.venues.instruments`; :mod:`~core.runtime.paper_session` runs
``arbtui --paper``. Nothing here imports textual or rich; wall-clock time is read here only to
stamp events and pace sockets, never in strategy code.
"""
