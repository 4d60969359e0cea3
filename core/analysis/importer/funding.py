"""Funding layouts -> settlement records with a per-record interval (HAZARDS H1-H3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from core.analysis.importer.errors import BadLines, FieldError, ImportDataError
from core.analysis.importer.layouts import Layout
from core.analysis.importer.readers import (
    Row,
    TimeColumn,
    check_iso_copy,
    float_rate,
    require,
    text_of,
    to_decimal,
)
from core.domain import timeutil
from core.domain.events import FundingRate, FundingSettled, Venue
from core.domain.funding_caps import implausible_rate
from core.venues.history import funding_caps

#: Intervals a gap between settlements may mean; any other gap is missing data, not a cadence.
GAP_INTERVALS_MS = tuple(h * timeutil.HOUR_MS for h in (1, 2, 4, 8))
#: Tolerance for two sources' copies of one settlement to count as the same rate.
SAME_RATE = Decimal("1e-8")


@dataclass(frozen=True)
class FundingRecord:
    """One settlement read from a file, before merging. ``ts_ms`` is normalised."""

    venue: Venue
    symbol: str
    ts_ms: int
    raw_ts: str
    rate: Decimal
    raw_rate: str
    interval_ms: int | None
    mark_price: Decimal | None
    file: str
    line: int
    record: int | None
    fixed_ahead: bool = False
    """The venue fixed this rate one interval before it settled (:meth:`announced`)."""

    @property
    def where(self) -> str:
        """``file:line`` (and record for JSON) of the record."""
        rec = "" if self.record is None else f" (record {self.record})"
        return f"{self.file}:{self.line}{rec}"

    def settled(self) -> FundingSettled:
        """The settlement event."""
        assert self.interval_ms is not None
        return FundingSettled(
            ts_ms=self.ts_ms,
            venue=self.venue,
            symbol=self.symbol,
            rate=self.rate,
            interval_ms=self.interval_ms,
            mark_price=self.mark_price,
            raw_ts=self.raw_ts,
            raw_rate=self.raw_rate,
        )

    def announced(self) -> FundingRate:
        """For a venue that fixes a rate one interval before it settles (``fixed_ahead``):
        the fixed-rate event at that earlier instant."""
        assert self.interval_ms is not None
        return FundingRate(
            ts_ms=self.ts_ms - self.interval_ms,
            venue=self.venue,
            symbol=self.symbol,
            rate=self.rate,
            settlement_ts_ms=self.ts_ms,
            interval_ms=self.interval_ms,
            fixed=True,
        )


def read_funding(
    rows: Sequence[Row | ImportDataError],
    layout: Layout,
    name: str,
    default_symbol: str | None,
    bad: BadLines,
) -> tuple[list[FundingRecord], int]:
    """Records of one funding file (sorted, one per settlement, every interval known) and the
    number of within-file duplicates merged."""
    clock = TimeColumn(layout.time, rows)
    records: list[FundingRecord] = []
    for row in rows:
        if isinstance(row, ImportDataError):
            bad.handle(row)
            continue
        try:
            records.append(_record(row, layout, clock, name, default_symbol))
        except FieldError as exc:
            bad.handle(
                ImportDataError(name, row.line, exc.reason, field=exc.field, record=row.record)
            )
    records.sort(key=lambda r: (r.symbol, r.ts_ms, r.line))
    unique: list[FundingRecord] = []
    merged = 0
    for rec in records:
        prev = unique[-1] if unique else None
        if prev is not None and (prev.symbol, prev.ts_ms) == (rec.symbol, rec.ts_ms):
            check_same_rate(prev, rec, layout.rate)
            merged += 1
            continue
        unique.append(rec)
    if layout.interval_kind == "gap":
        unique = _gap_intervals(unique, layout, bad)
    return _within_caps(unique, layout, bad), merged


def _within_caps(
    records: list[FundingRecord], layout: Layout, bad: BadLines
) -> list[FundingRecord]:
    """The records whose rate lies within the venue's cap for the symbol
    (:func:`core.venues.history.funding_caps`, scaled to the record's interval;
    :meth:`core.domain.funding_caps.FundingCap.breach`, the replay readers' rule too); a rate beyond
    it (a rate written in percent without its ``%`` sign is 100 times too large) is a bad
    line naming the file, the line, the cap and its source."""
    caps = funding_caps()
    kept: list[FundingRecord] = []
    for rec in records:
        cap = caps.get((rec.venue, rec.symbol))
        why = cap.breach(rec.venue, rec.rate, rec.raw_rate, rec.interval_ms) if cap else None
        if why is None:
            kept.append(rec)
            continue
        bad.handle(ImportDataError(rec.file, rec.line, why, field=layout.rate, record=rec.record))
    return kept


def check_same_rate(kept: FundingRecord, other: FundingRecord, field: str) -> None:
    """Two copies of one settlement must agree within :data:`SAME_RATE`, else error naming
    both places."""
    if abs(kept.rate - other.rate) <= SAME_RATE:
        return
    raise ImportDataError(
        other.file,
        other.line,
        f"rate {other.raw_rate} conflicts with {kept.raw_rate} at {kept.where} for the "
        f"{other.venue} {other.symbol} settlement at {timeutil.ms_to_iso(other.ts_ms)}",
        field=field,
        record=other.record,
    )


def _record(
    row: Row, layout: Layout, clock: TimeColumn, name: str, default_symbol: str | None
) -> FundingRecord:
    raw_ts = require(row, layout.time)
    exact_ts_ms = clock.parse(raw_ts)
    if layout.iso_time:
        check_iso_copy(row, layout.iso_time, layout.time, exact_ts_ms)
    try:
        ts_ms = timeutil.normalise_settlement_ms(exact_ts_ms)
    except ValueError as exc:
        raise FieldError(layout.time, str(exc)) from None
    raw_rate = require(row, layout.rate)
    if layout.rate_is_float:
        rate = float_rate(layout.rate, raw_rate)
    else:
        rate = to_decimal(layout.rate, raw_rate)
    why = implausible_rate(rate, raw_rate)
    if why is not None:
        raise FieldError(layout.rate, why)
    symbol = require(row, layout.symbol) if layout.symbol else default_symbol
    if not symbol:
        raise FieldError(layout.symbol or "symbol", "no symbol")
    return FundingRecord(
        venue=layout.venue,
        symbol=symbol,
        ts_ms=ts_ms,
        raw_ts=raw_ts,
        rate=rate,
        raw_rate=raw_rate,
        interval_ms=_interval(row, layout),
        mark_price=_mark(row, layout),
        file=name,
        line=row.line,
        record=row.record,
        fixed_ahead=layout.fixed_ahead,
    )


def _interval(row: Row, layout: Layout) -> int | None:
    if layout.interval_kind != "column" or layout.interval_ms is None:
        return None
    text = require(row, layout.interval)
    try:
        return layout.interval_ms(text)
    except ValueError as exc:
        raise FieldError(layout.interval, str(exc)) from None


def _mark(row: Row, layout: Layout) -> Decimal | None:
    if not layout.mark:
        return None
    text = text_of(row, layout.mark, optional=True)  # "markPrice": "" is missing (H3)
    if text is None:
        return None
    mark = to_decimal(layout.mark, text)
    if mark <= 0:
        raise FieldError(layout.mark, f"{text!r} is not a positive price")
    return mark


def _gap_intervals(
    records: list[FundingRecord], layout: Layout, bad: BadLines
) -> list[FundingRecord]:
    """Interval of each record = gap to the previous settlement of its symbol; the first
    record takes the gap to the next one. A gap that is no funding interval (1, 2, 4, 8 h)
    means missing data: that record is bad (its own time stays the reference for the next)."""
    out: list[FundingRecord] = []
    for i, rec in enumerate(records):
        prev = records[i - 1] if i > 0 and records[i - 1].symbol == rec.symbol else None
        nxt = records[i + 1] if i + 1 < len(records) else None
        if prev is not None:
            gap_ms, other = rec.ts_ms - prev.ts_ms, prev
        elif nxt is not None and nxt.symbol == rec.symbol:
            gap_ms, other = nxt.ts_ms - rec.ts_ms, nxt
        else:
            bad.handle(
                ImportDataError(
                    rec.file,
                    rec.line,
                    f"the only settlement of {rec.symbol}: its interval "
                    "cannot be told from the gap to another one",
                    field=layout.time,
                    record=rec.record,
                )
            )
            continue
        if gap_ms not in GAP_INTERVALS_MS:
            bad.handle(
                ImportDataError(
                    rec.file,
                    rec.line,
                    f"{timeutil.format_duration_ms(gap_ms)} from the settlement at line "
                    f"{other.line} is not a funding interval (1, 2, 4 or 8 h): missing data?",
                    field=layout.time,
                    record=rec.record,
                )
            )
            continue
        out.append(replace(rec, interval_ms=gap_ms))
    return out
