"""Feed health: per-stream state and per-venue counters, and the rule the engine obeys.

A *stream* is one subscription (``btcusdt@markPrice@1s``, ``quote:XBTUSD``). It is ``live``
while its messages arrive; a watched stream (``stale_after_s`` set) silent for longer is
``stale`` (HAZARDS H13); ``connecting`` before its first message on a socket; ``down`` while
its socket is gone. A venue is stale while any of its watched streams is not fresh, and the
engine then opens nothing there (:mod:`core.runtime.feed_health` tells it; hedging and
reduce-only orders go on).

:class:`VenueStats` holds the plain counters that metrics read (issue 5): messages,
reconnects, parse errors, resubscriptions, unknown ids, oversize frames, missed pongs, frames
dropped by the feed rules (per reason) and venue error frames. :class:`LogLimiter` keeps the log
to at most one line per key (a stream, a kind of error) per :data:`LOG_EVERY_S` seconds, the
next line saying how many were held back. All of it lives on the engine's loop thread; readers
on other threads see plain ints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.domain.snapshot import FeedView

STATES = ("connecting", "live", "stale", "down")

LOG_EVERY_S = 10.0
"""At most one log line per key (stream, kind of error) in this many seconds."""


@dataclass(slots=True)
class LogLimiter:
    """Limits log lines by time: at most one line per key per ``every_s`` seconds
    (``monotonic`` clock); the next line that goes out carries the count held back since."""

    every_s: float = LOG_EVERY_S
    monotonic: Callable[[], float] = time.monotonic
    _last: dict[object, float] = field(default_factory=dict)
    _held: dict[object, int] = field(default_factory=dict)

    def say(self, log: Callable[[str, str], None], key: object, kind: str, text: str) -> bool:
        """Log ``text`` under ``key`` unless a line of that key went out less than
        ``every_s`` ago (then count it). True when the line was written."""
        now = self.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            text = f"{text} (+{held} more held back since the last line of this kind)"
        log(kind, text)
        return True

    def held(self, key: object) -> int:
        """Lines of ``key`` held back since the last one written."""
        return self._held.get(key, 0)


@dataclass(slots=True, eq=False)
class StreamHealth:
    """One stream. Times are ``time.monotonic()`` seconds; ``stale_after_s`` None = not
    watched (e.g. BitMEX ``funding``, which speaks only at settlements)."""

    venue: str
    name: str
    stale_after_s: float | None
    since: float
    state: str = "connecting"
    messages: int = 0
    last_msg: float | None = None
    reconnects: int = 0
    grace_until: float | None = None
    """A stream subscribed at run time (a pair added to the session) counts as fresh until
    this instant while its first message is on the way, so that adding a pair does not
    mark its venue stale; one still silent then is stale. None: no grace (start-up: nothing
    is opened before data arrives)."""

    def seen(self, now: float) -> None:
        """A message of this stream arrived at ``now``."""
        self.messages += 1
        self.last_msg = now
        if self.state != "live":
            self.state = "live"

    def silent_s(self, now: float) -> float:
        """Seconds since the last message (or since the stream was registered)."""
        return now - (self.last_msg if self.last_msg is not None else self.since)

    def fresh(self, now: float) -> bool:
        """True while live and, if watched, not silent for longer than ``stale_after_s``."""
        if self.state != "live":
            return self.grace_until is not None and now <= self.grace_until
        return self.stale_after_s is None or self.silent_s(now) <= self.stale_after_s


@dataclass(slots=True)
class VenueStats:
    """Counters of one venue's feed since start (read by metrics; never reset)."""

    venue: str
    messages: int = 0
    """Frames received (data, acks, pongs)."""
    reconnects: int = 0
    """Connections re-opened after one was lost, went stale or was replaced."""
    failed_attempts: int = 0
    """Connection attempts that failed (refused, handshake error, timeout)."""
    parse_errors: int = 0
    """Frames that could not be decoded or had a bad field (each also counted here)."""
    resubscribes: int = 0
    """BitMEX tables re-subscribed after an update or delete for an unknown id."""
    unknown_ids: int = 0
    """BitMEX update/delete rows for a key never seen (the table goes dirty)."""
    early_updates: int = 0
    """BitMEX insert/update/delete rows before the table's partial (dropped)."""
    oversize_frames: int = 0
    """Frames over ``feeds.max_frame_bytes`` (the socket is dropped and re-opened)."""
    stale_events: int = 0
    """Times a watched stream went stale."""
    pongs_missed: int = 0
    """BitMEX ``ping`` without ``pong`` in time (dead peer)."""
    rotations: int = 0
    """Planned reconnects (Binance 24 h) completed without a gap."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Frames dropped by the feed rules, by reason (:mod:`core.feeds.rules`): a topic or
    symbol that was not subscribed, a frame older than the last one applied."""
    venue_errors: int = 0
    """Error frames and subscription refusals sent by the venue (each logged with its text)."""
    last_error: str = ""
    """The latest error text (parse error, close reason, refused handshake)."""
    limiter: LogLimiter = field(default_factory=LogLimiter)
    """The time limit on this venue's feed log lines."""


@dataclass(slots=True)
class HealthBoard:
    """Every stream and venue of a session."""

    monotonic: Callable[[], float] = time.monotonic
    streams: dict[tuple[str, str], StreamHealth] = field(default_factory=dict)
    venues: dict[str, VenueStats] = field(default_factory=dict)

    def stream(self, venue: str, name: str, stale_after_s: float | None) -> StreamHealth:
        """Register (or return) a stream."""
        key = (venue, name)
        st = self.streams.get(key)
        if st is None:
            st = self.streams[key] = StreamHealth(venue, name, stale_after_s, self.monotonic())
            self.venue(venue)
        return st

    def added_stream(self, venue: str, name: str, stale_after_s: float | None) -> StreamHealth:
        """Register a stream subscribed at run time: :meth:`stream`, with ``stale_after_s``
        of grace from now for its first message (:attr:`StreamHealth.grace_until`)."""
        st = self.stream(venue, name, stale_after_s)
        if st.last_msg is None and stale_after_s is not None:
            st.grace_until = self.monotonic() + stale_after_s
        return st

    def venue(self, venue: str) -> VenueStats:
        """The counters of ``venue`` (created on first use)."""
        vs = self.venues.get(venue)
        if vs is None:
            vs = self.venues[venue] = VenueStats(
                venue, limiter=LogLimiter(monotonic=self.monotonic)
            )
        return vs

    def stale_venues(self, now: float | None = None) -> set[str]:
        """Venues with a watched stream that is not fresh now."""
        t = self.monotonic() if now is None else now
        return {
            st.venue
            for st in self.streams.values()
            if st.stale_after_s is not None and not st.fresh(t)
        }

    def worst(self, venue: str, now: float | None = None) -> tuple[str, float] | None:
        """(stream name, silent seconds) of ``venue``'s stalest unfresh stream, or None."""
        t = self.monotonic() if now is None else now
        bad = [
            (st.silent_s(t), st.name)
            for st in self.streams.values()
            if st.venue == venue and st.stale_after_s is not None and not st.fresh(t)
        ]
        if not bad:
            return None
        silent, name = max(bad)
        return name, silent


def count_bad_frame(
    stats: VenueStats, log: Callable[[str, str], None], exc: Exception, frame: bytes
) -> None:
    """Count a frame that could not be parsed and say so, at most once per
    ``stats.limiter.every_s`` seconds (a flood of bad frames does not flood the log; the next
    line says how many were held back)."""
    stats.parse_errors += 1
    n = stats.parse_errors
    stats.last_error = f"bad frame: {exc}"
    text = f"{stats.venue}: bad frame #{n} skipped: {exc}: {frame[:200]!r}"
    stats.limiter.say(log, "bad_frame", "alert", text)


def build_feed_views(board: HealthBoard, now: float | None = None) -> tuple[FeedView, ...]:
    """Every stream of a live session (``now`` in ``time.monotonic()`` seconds). A stream
    not connected (``connecting``, ``down``) notes its venue's connection attempt and last
    error: ``attempt 4, last error gaierror: ...``."""
    t = board.monotonic() if now is None else now
    out = []
    for st in board.streams.values():
        fresh = st.fresh(t)
        state = st.state if fresh or st.state != "live" else "stale"
        stale_ms = 0 if fresh or st.stale_after_s is None else int(st.silent_s(t) * 1000)
        note = ""
        if state in ("connecting", "down"):
            vs = board.venues.get(st.venue)
            if vs is not None:
                note = f"attempt {vs.failed_attempts + 1}"
                if vs.last_error:
                    note += f", last error {vs.last_error}"
        out.append(FeedView(st.venue, st.name, state, stale_ms, st.messages, st.reconnects, note))
    return tuple(out)
