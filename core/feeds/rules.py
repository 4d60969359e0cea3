"""The feed rules every venue package meets (issue 10, section 6), at one door per feed.

- Only the streams (topics) a feed subscribed, for the symbol each was subscribed for, reach the
  engine. Anything else is dropped and counted per reason in ``VenueStats.dropped``; it never
  makes the feed subscribe to anything (:meth:`StreamGate.admit` has no side effect but a
  count and a time-limited log line).
- A frame older than the last one applied for the same stream is dropped and counted, never
  applied (:meth:`StreamGate.in_order`; the order key is the venue's update id or sequence,
  else its timestamp; equal keys are applied, a resent frame being idempotent).
- Every venue error frame and subscription refusal is logged with the venue's own text
  (:meth:`StreamGate.venue_error`), at most one line per stream per ``LogLimiter.every_s``
  seconds, the next line saying how many were held back.

The fourth rule (a connection that fails again right after each reconnect backs off like a
failed handshake; an oversize frame is logged with its size and the limit) lives in
:mod:`core.feeds.socket`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.feeds.health import VenueStats

UNSUBSCRIBED_STREAM = "unsubscribed_stream"
"""A frame of a topic / stream this feed never subscribed (or has no handler for)."""
WRONG_SYMBOL = "wrong_symbol"
"""A frame of a subscribed stream whose rows name another symbol than the stream's."""
OLDER_THAN_APPLIED = "older_than_applied"
"""A frame whose update id / sequence / timestamp is below the last applied one of its stream."""


class StreamGate:
    """The rules at the door of one venue feed. ``subscribed`` maps each subscribed stream name
    (the venue's own: ``tickers.BTCUSDT``, ``btcusdt@bookTicker``) to its symbol.

    Runs on the feed's loop (not thread-safe). ``last`` holds the order key of the last frame
    applied per stream; :meth:`reset` forgets it (a new connection starts a new sequence).
    """

    __slots__ = ("_log", "last", "stats", "subscribed")

    def __init__(
        self,
        stats: VenueStats,
        subscribed: dict[str, str],
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.stats = stats
        self.subscribed = dict(subscribed)
        self.last: dict[str, int] = {}
        self._log = log or (lambda _k, _t: None)

    def admit(self, stream: str, symbol: str | None = None) -> bool:
        """True when ``stream`` was subscribed (and, if given, ``symbol`` is its symbol);
        else the frame is dropped and counted."""
        want = self.subscribed.get(stream)
        if want is None:
            self.drop(UNSUBSCRIBED_STREAM, stream, f"stream {stream!r} was not subscribed")
            return False
        if symbol is not None and symbol != want:
            self.drop(WRONG_SYMBOL, stream, f"symbol {symbol!r} on stream {stream!r}")
            return False
        return True

    def in_order(self, stream: str, key: int) -> bool:
        """True (and ``key`` recorded) unless ``key`` is below the last applied key of
        ``stream``; a 0 key (the venue sent none) is always in order."""
        if key:
            last = self.last.get(stream)
            if last is not None and key < last:
                self.drop(OLDER_THAN_APPLIED, stream, f"{stream}: {key} < last applied {last}")
                return False
            self.last[stream] = key
        return True

    def drop(self, reason: str, stream: str, text: str) -> None:
        """Count a dropped frame under ``reason`` and say so (time-limited per reason and
        stream)."""
        d = self.stats.dropped
        d[reason] = d.get(reason, 0) + 1
        self.stats.limiter.say(
            self._log, ("drop", reason, stream), "state", f"{self.stats.venue}: dropped: {text}"
        )

    def venue_error(self, stream: str, text: str) -> None:
        """An error frame or subscription refusal of the venue: counted, kept as the last
        error and logged with the venue's text (at most one line per stream per period)."""
        self.stats.venue_errors += 1
        self.stats.last_error = f"{stream}: {text}"
        self.stats.limiter.say(
            self._log, ("venue_error", stream), "alert", f"{self.stats.venue} {stream}: {text}"
        )

    def beyond_cap(self, symbol: str, rate: object, cap: object, source: str) -> None:
        """A funding rate beyond the venue's own cap for ``symbol`` arrived (kept, flagged):
        an alert, at most one per symbol per period."""
        self.stats.limiter.say(
            self._log,
            ("beyond_cap", symbol),
            "alert",
            f"{self.stats.venue} {symbol}: funding rate {rate} is beyond its cap of +-{cap} "
            f"({source}): check the venue's status before trading on it",
        )

    def reset(self, streams: Iterable[str] | None = None) -> None:
        """Forget the last applied keys (of ``streams``, default all)."""
        if streams is None:
            self.last.clear()
            return
        for s in streams:
            self.last.pop(s, None)
