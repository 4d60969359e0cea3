"""The one door live events go through into the engine: stamp, order, record, apply.

Live events are stamped with the wall-clock instant they arrived (``ts_ms``: when the
information became known here; exchange times stay in the messages' own fields), never
earlier than the previous event, so engine time only moves forward. A replay file needs events
in ``(ts_ms, ORDER[type])`` order (:mod:`core.domain.events`): a quote is applied at once, while
settlements and rates seen ahead wait until their millisecond is over (at most ~2 ms) and then
go in type order. Every applied event is written to the recorder first, in the same order, so
replaying the recording feeds the engine exactly what the live session fed it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from core.domain.events import ORDER, Event, Quote, bad_price

FLUSH_AFTER_S = 0.002
"""Held (non-quote) events are flushed this long after the first of them arrived."""


class EventWriter(Protocol):
    """What the sink records into (:class:`core.feeds.recorder.ReplayRecorder`)."""

    def write(self, ev: Event) -> None: ...


def wall_ms() -> int:
    """UTC now in ms (the feeds' clock; never read by strategy code)."""
    return time.time_ns() // 1_000_000


class EventSink:
    """Applies events to ``apply`` (``engine.on_event``) in replay order.

    ``stamp()`` gives the ``ts_ms`` for a message that has just arrived; ``publish(ev)``
    applies (or briefly holds) one event stamped so. ``events`` counts applied events.
    Runs on the engine's loop; not thread-safe.
    """

    def __init__(
        self,
        apply: Callable[[Event], None],
        *,
        recorder: EventWriter | None = None,
        clock_ms: Callable[[], int] = wall_ms,
        on_bad: Callable[[Event, str], None] | None = None,
    ) -> None:
        self._apply = apply
        self._on_bad = on_bad
        self.dropped = 0
        """Events refused at the door (a price of 0 or less: :func:`bad_price`)."""
        self.recorder = recorder
        self._clock_ms = clock_ms
        self._last_ts = 0
        self._last_order = 0
        self._held: list[Event] = []
        self._held_ts = 0
        self._timer: asyncio.TimerHandle | None = None
        self.events = 0
        self.restamped = 0

    def stamp(self) -> int:
        """The ``ts_ms`` for a message received now: wall clock, never before the last event."""
        t = self._clock_ms()
        return t if t > self._last_ts else self._last_ts

    def _refused(self, ev: Event) -> bool:
        """True (and ``on_bad`` told why) when ``ev`` carries a price of 0 or less: it is
        neither applied nor recorded."""
        why = bad_price(ev)
        if why is None:
            return False
        self.dropped += 1
        if self._on_bad is not None:
            self._on_bad(ev, why)
        return True

    def publish(self, ev: Event) -> None:
        """Apply ``ev`` now (quotes, bars) or hold it until its millisecond is over; an event
        with a price of 0 or less is refused (:meth:`_refused`)."""
        if self._refused(ev):
            return
        if self._held and ev.ts_ms > self._held_ts:
            self.flush()
        if type(ev) is Quote or ORDER[ev.__struct_config__.tag] == 0:  # type: ignore[index]
            self._emit(ev)
            return
        if not self._held:
            self._held_ts = ev.ts_ms
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._timer = loop.call_later(FLUSH_AFTER_S, self.flush)
        self._held.append(ev)

    def publish_quote(self, ev: Quote) -> None:
        """:meth:`publish` for a :class:`Quote` (the hot path: applied at once)."""
        if self._refused(ev):
            return
        if self._held and ev.ts_ms > self._held_ts:
            self.flush()
        ts = ev.ts_ms
        if ts < self._last_ts or (ts == self._last_ts and self._last_order):
            self._emit(ev)  # the rare re-stamp path
            return
        self._last_ts = ts
        self._last_order = 0
        if self.recorder is not None:
            self.recorder.write(ev)
        self.events += 1
        self._apply(ev)

    def flush(self) -> None:
        """Apply the held events in type order (stable within a type)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        held.sort(key=lambda e: ORDER[e.__struct_config__.tag])  # type: ignore[index]
        for ev in held:
            self._emit(ev)

    def _emit(self, ev: Event) -> None:
        order = ORDER[ev.__struct_config__.tag]  # type: ignore[index]
        if ev.ts_ms < self._last_ts or (ev.ts_ms == self._last_ts and order < self._last_order):
            # only when a held event was flushed early: keep the replay order total
            ts = self._last_ts if order >= self._last_order else self._last_ts + 1
            ev = msgspec.structs.replace(ev, ts_ms=ts)
            self.restamped += 1
        self._last_ts = ev.ts_ms
        self._last_order = order
        if self.recorder is not None:
            self.recorder.write(ev)
        self.events += 1
        self._apply(ev)
