"""``--record FILE``: every normalised event of a live or paper session, in the order the
engine applied it, written as a replay file (format in :mod:`core.domain.events`).

Events are appended to ``FILE.events.part`` as they come (buffered, flushed at least every
:data:`FLUSH_EVERY_S`); :meth:`ReplayRecorder.close` writes the final file atomically: the
header (instruments traded, first and last ``ts_ms``, count) and then the events, gzip when
the name ends in ``.gz`` (as :func:`core.analysis.importer.build.write_replay` does). If the
process dies
first, the ``.events.part`` file still holds every event written so far, one JSON line each.
Replaying the file with the same settings feeds the engine the same events in the same order.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

from core.domain.events import Event, InstrumentSpec, ReplayHeader, encode

FLUSH_EVERY_S = 1.0
BUFFER_LINES = 2048


class ReplayRecorder:
    """Writes a replay file of the events given to :meth:`write` (engine thread only)."""

    def __init__(self, path: str | Path, instruments: list[InstrumentSpec], *, by: str) -> None:
        self.path = Path(path)
        self.instruments = instruments
        self.created_by = by
        self.part = self.path.with_name(self.path.name + ".events.part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.part.open("wb")
        self._buf: list[bytes] = []
        self._last_flush = time.monotonic()
        self.events = 0
        self.first_ts_ms: int | None = None
        self.last_ts_ms = 0
        self.closed = False

    def add_instruments(self, specs: list[InstrumentSpec]) -> None:
        """List ``specs`` in the header too (instruments of a pair added at run time, whose
        events are recorded from now on); one already listed (venue, symbol) is kept."""
        have = {(s.venue, s.symbol) for s in self.instruments}
        self.instruments = [
            *self.instruments,
            *(s for s in specs if (s.venue, s.symbol) not in have),
        ]

    def write(self, ev: Event) -> None:
        """Append one event (already in replay order)."""
        self._buf.append(encode(ev) + b"\n")
        if self.first_ts_ms is None:
            self.first_ts_ms = ev.ts_ms
        self.last_ts_ms = ev.ts_ms
        self.events += 1
        if len(self._buf) >= BUFFER_LINES or time.monotonic() - self._last_flush > FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write buffered lines to the ``.events.part`` file."""
        if self._buf:
            self._fh.write(b"".join(self._buf))
            self._buf.clear()
        self._fh.flush()
        self._last_flush = time.monotonic()

    def close(self) -> Path:
        """Write the final replay file and remove the part file; returns the path."""
        if self.closed:
            return self.path
        self.flush()
        self._fh.close()
        self.closed = True
        start = self.first_ts_ms if self.first_ts_ms is not None else 0
        header = ReplayHeader(
            instruments=self.instruments,
            start_ts_ms=start,
            end_ts_ms=max(self.last_ts_ms + 1, start + 1),
            events=self.events,
            created_by=self.created_by,
        )
        tmp = self.path.with_name(self.path.name + ".part")
        with tmp.open("wb") as raw, self.part.open("rb") as body:
            if self.path.name.endswith(".gz"):
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                    gz.write(encode(header) + b"\n")
                    shutil.copyfileobj(body, gz)
            else:
                raw.write(encode(header) + b"\n")
                shutil.copyfileobj(body, raw)
        os.replace(tmp, self.path)
        self.part.unlink()
        return self.path
