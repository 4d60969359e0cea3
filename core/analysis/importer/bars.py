"""Kline / trade-bin layouts -> :class:`core.domain.events.Bar` (known at its close).

A bar's time column is its label; the layout says where the label sits in the bar
(``label_at``): at its open, or in its middle (a bar labelled ``t`` covering
[t - interval/2, t + interval/2) opens at t - interval/2 and is known at its close,
t + interval/2 - 1 ms). The interval grid and the time order are checked on the labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from core.analysis.importer.errors import BadLines, FieldError, ImportDataError
from core.analysis.importer.layouts import Layout, interval_from_filename
from core.analysis.importer.readers import (
    Row,
    TimeColumn,
    check_iso_copy,
    require,
    text_of,
    to_float,
)
from core.domain import timeutil
from core.domain.events import Bar, Venue


@dataclass(frozen=True)
class BarRecord:
    """One bar as read, before its interval is known. ``open_ts_ms`` is the label (the
    time column); ``stated_open_ms`` the open the file states in a column of its own."""

    line: int
    record: int | None
    open_ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float | None
    stated_open_ms: int | None = None


@dataclass(frozen=True)
class BarSet:
    """The bars of one file: one venue, symbol and interval; ``lines[i]`` is where
    ``bars[i]`` was read."""

    venue: Venue
    symbol: str
    interval_ms: int
    bars: list[Bar]
    lines: list[int]


def read_bars(
    rows: Sequence[Row | ImportDataError],
    layout: Layout,
    path: Path,
    symbol: str,
    interval_ms: int | None,
    bad: BadLines,
) -> BarSet:
    """Bars of one file, strictly increasing in open time. The interval is ``interval_ms``
    when given, else the most common step between labels, else the file name's token. A
    bar's open is its label moved by the layout's ``label_at``; an open the file states
    (``layout.open_time``) must agree with it."""
    name = path.name
    clock = TimeColumn(layout.time, rows)
    records: list[BarRecord] = []
    for row in rows:
        if isinstance(row, ImportDataError):
            bad.handle(row)
            continue
        try:
            rec = _record(row, layout, clock)
            if records and rec.open_ts_ms <= records[-1].open_ts_ms:
                prev = records[-1]
                how = "repeats" if rec.open_ts_ms == prev.open_ts_ms else "is before"
                raise FieldError(
                    layout.time,
                    f"open time {timeutil.ms_to_iso(rec.open_ts_ms)} {how} the bar at line "
                    f"{prev.line} ({timeutil.ms_to_iso(prev.open_ts_ms)}): bars must be in "
                    "time order without duplicates",
                )
        except FieldError as exc:
            bad.handle(
                ImportDataError(name, row.line, exc.reason, field=exc.field, record=row.record)
            )
            continue
        records.append(rec)
    step_ms = interval_ms or _common_step(records) or interval_from_filename(path)
    if step_ms is None:
        raise ImportDataError(
            name, None, "cannot tell the bar interval from one bar: give it as LAYOUT:INTERVAL"
        )
    bars: list[Bar] = []
    lines: list[int] = []
    prev_label: int | None = None
    what = "open time" if layout.label_at == "open" else "label"
    for rec in records:
        problem = _off_grid(rec, prev_label, step_ms, what)
        if problem:
            bad.handle(
                ImportDataError(name, rec.line, problem, field=layout.time, record=rec.record)
            )
            continue
        open_ts_ms = rec.open_ts_ms - (step_ms // 2 if layout.label_at == "middle" else 0)
        if rec.stated_open_ms is not None and rec.stated_open_ms != open_ts_ms:
            bad.handle(
                ImportDataError(
                    name,
                    rec.line,
                    f"states the open {timeutil.ms_to_iso(rec.stated_open_ms)}, but a "
                    f"{timeutil.format_duration_ms(step_ms)} {layout.venue} bar labelled "
                    f"{timeutil.ms_to_iso(rec.open_ts_ms)} opens at "
                    f"{timeutil.ms_to_iso(open_ts_ms)} (label at its {layout.label_at})",
                    field=layout.open_time,
                    record=rec.record,
                )
            )
            continue
        bars.append(
            Bar(
                ts_ms=open_ts_ms + step_ms - 1,
                venue=layout.venue,
                symbol=symbol,
                open_ts_ms=open_ts_ms,
                interval_ms=step_ms,
                open=rec.open,
                high=rec.high,
                low=rec.low,
                close=rec.close,
                volume=rec.volume,
            )
        )
        lines.append(rec.line)
        prev_label = rec.open_ts_ms
    return BarSet(layout.venue, symbol, step_ms, bars, lines)


def _record(row: Row, layout: Layout, clock: TimeColumn) -> BarRecord:
    open_ts_ms = clock.parse(require(row, layout.time))
    if layout.iso_time:
        check_iso_copy(row, layout.iso_time, layout.time, open_ts_ms)
    stated_open_ms: int | None = None
    if layout.open_time:
        stated_open_ms = TimeColumn(layout.open_time).parse(require(row, layout.open_time))
        if layout.open_iso:
            check_iso_copy(row, layout.open_iso, layout.open_time, stated_open_ms)
    o, h, low, c = (to_float(f, require(row, f)) for f in ("open", "high", "low", "close"))
    for field, value in (("open", o), ("high", h), ("low", low), ("close", c)):
        if value <= 0:
            raise FieldError(field, f"{value!r} is not a positive price")
    if h < low:
        raise FieldError("high", f"high {h!r} is below low {low!r}")
    # A BitMEX bin opens at the previous close, which may lie outside its own [low, high]:
    # open is deliberately not checked against the range.
    vol_text = text_of(row, layout.volume, optional=True)
    volume = None if vol_text is None else to_float(layout.volume, vol_text)
    if volume is not None and volume < 0:
        raise FieldError(layout.volume, f"{vol_text!r} is a negative volume")
    return BarRecord(row.line, row.record, open_ts_ms, o, h, low, c, volume, stated_open_ms)


def _common_step(records: list[BarRecord]) -> int | None:
    """The most common gap between consecutive open times (gaps in the data only add larger
    steps); ties go to the smaller step."""
    steps = Counter(b.open_ts_ms - a.open_ts_ms for a, b in pairwise(records))
    if not steps:
        return None
    return min(steps, key=lambda s: (-steps[s], s))


def _off_grid(rec: BarRecord, prev_label_ms: int | None, step_ms: int, what: str) -> str:
    """Why a bar's label (its time column) does not fit the interval grid ("" when it does);
    ``what`` names the label in the message."""
    if timeutil.DAY_MS % step_ms == 0 and rec.open_ts_ms % step_ms:
        how = "is not on the {size} grid"
    elif prev_label_ms is not None and (rec.open_ts_ms - prev_label_ms) % step_ms:
        how = "is not a whole number of {size} bars after the previous one"
    else:
        return ""
    size = timeutil.format_duration_ms(step_ms)
    return f"{what} {timeutil.ms_to_iso(rec.open_ts_ms)} " + how.format(size=size)
