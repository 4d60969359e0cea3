"""Timestamps: parsing the exchanges' many shapes into UTC milliseconds, and back.

Every instant in the project is an ``int`` of milliseconds since the Unix epoch, UTC, named
``*_ts_ms``; every duration is an ``int`` of milliseconds named ``*_ms``. These functions are
pure (no clock, no I/O) and raise ``ValueError`` with a short reason; callers add the file,
line and field (HAZARDS H3).

Integer timestamps carry no unit, so the unit is decided per source column from the number of
digits of a value (10 s, 13 ms, 16 us, 19 ns) and then held for the whole column: a value of
another magnitude in that column is an error, not a silent rescale.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: Sane range of market-data instants: [2009-01-03T00:00Z, 2040-01-01T00:00Z). The floor is
#: the day of Bitcoin's first block (no market data can be older; BitMEX's own funding history
#: starts in 2016), not a venue's launch: a unit error (seconds read as ms, 1970) still falls
#: outside it.
MIN_TS_MS = 1_230_940_800_000
MAX_TS_MS = 2_208_988_800_000

#: Default tolerance of :func:`normalise_settlement_ms`: exchange jitter is a few ms.
SETTLEMENT_TOLERANCE_MS = 60 * SECOND_MS

#: BitMEX encodes ``fundingInterval`` as an offset from this instant (2000-01-01T00:00Z).
BITMEX_INTERVAL_EPOCH_MS = 946_684_800_000

TimeUnit = Literal["s", "ms", "us", "ns"]

#: Digits of an integer timestamp in [2009, 2040) for each unit, and the unit's size in ns.
UNIT_DIGITS: dict[TimeUnit, int] = {"s": 10, "ms": 13, "us": 16, "ns": 19}
UNIT_BY_DIGITS: dict[int, TimeUnit] = {d: u for u, d in UNIT_DIGITS.items()}
_NS_PER_UNIT: dict[TimeUnit, int] = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?\Z"
)
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)\Z")
_DURATION_MS = {"ms": 1, "s": SECOND_MS, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_iso_ms(text: str) -> int:
    """ISO 8601 date or date-time -> ms since the epoch, UTC (no range check).

    ``2023-09-10T20:00:00.000Z`` -> 1694376000000. A missing offset means UTC; a date alone
    means its midnight UTC; fractions finer than 1 ms are truncated toward the past.
    """
    m = _ISO.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    year, month, day, hour, minute, sec, frac, offset = m.groups()
    try:
        dt = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(sec or 0),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date-time: {exc}") from None
    ts_ms = (dt - _EPOCH) // timedelta(milliseconds=1)
    if frac:
        ts_ms += int(frac.ljust(9, "0")) // 1_000_000
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        ts_ms -= sign * (int(digits[:2]) * HOUR_MS + int(digits[2:]) * MINUTE_MS)
    return ts_ms


def check_range_ms(ts_ms: int) -> int:
    """Return ``ts_ms`` if it lies in [2009-01-03, 2040-01-01) UTC, else raise ValueError.

    The message says which unit an out-of-range value looks like when its digits read in that
    unit give a sane instant (HAZARDS H3): ``1709294399999000`` -> ``looks like microseconds
    (2024-03-01T11:59:59.999Z)``, ``1709294399`` -> ``looks like seconds``."""
    if not MIN_TS_MS <= ts_ms < MAX_TS_MS:
        raise ValueError(
            f"{ts_ms} ms ({_describe(ts_ms)}) is outside the sane range "
            f"{ms_to_iso(MIN_TS_MS)} .. {ms_to_iso(MAX_TS_MS)}{_unit_hint(ts_ms)}"
        )
    return ts_ms


_UNIT_NAMES: dict[TimeUnit, str] = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
}


def _unit_hint(ts_ms: int) -> str:
    """``: looks like <unit> (<instant>)`` when ``ts_ms`` has the digits of another unit and
    reads as a sane instant in it; else empty."""
    unit = UNIT_BY_DIGITS.get(len(str(ts_ms))) if ts_ms > 0 else None
    if unit is None or unit == "ms":
        return ""
    as_ms = ts_ms * _NS_PER_UNIT[unit] // _NS_PER_UNIT["ms"]
    if not MIN_TS_MS <= as_ms < MAX_TS_MS:
        return ""
    return f": looks like {_UNIT_NAMES[unit]} ({ms_to_iso(as_ms)})"


def int_unit(text: str) -> TimeUnit:
    """Unit of an integer timestamp from its digits: 10 s, 13 ms, 16 us, 19 ns."""
    digits = _digits(text)
    unit = UNIT_BY_DIGITS.get(len(digits))
    if unit is None:
        raise ValueError(
            f"{text!r} has {len(digits)} digits: not a timestamp in s (10), ms (13), "
            "us (16) or ns (19)"
        )
    return unit


def int_to_ms(text: str, unit: TimeUnit) -> int:
    """An integer timestamp in ``unit`` -> ms (finer units truncated), range-checked.

    The value must have the digits of ``unit`` (a 13-digit value in a seconds column is an
    error). ``1735689600010866`` in us -> 1735689600010; ``1623211200`` in s ->
    1623211200000; ``4133404800000`` in ms (year 2100) is rejected.
    """
    digits = _digits(text)
    if len(digits) != UNIT_DIGITS[unit]:
        raise ValueError(
            f"{text!r} has {len(digits)} digits but this column holds {unit} "
            f"({UNIT_DIGITS[unit]} digits)"
        )
    return check_range_ms(int(digits) * _NS_PER_UNIT[unit] // _NS_PER_UNIT["ms"])


def parse_ts_ms(text: str, unit: TimeUnit | None = None) -> int:
    """A timestamp as an ISO 8601 string or an integer -> ms, range-checked.

    Integers are read in ``unit`` when given (the column's unit), else in the unit their
    digits imply (:func:`int_unit`).
    """
    text = text.strip()
    if text.isdigit():
        return int_to_ms(text, unit if unit is not None else int_unit(text))
    return check_range_ms(parse_iso_ms(text))


def bitmex_interval_ms(text: str) -> int:
    """BitMEX ``fundingInterval`` (a date-time after 2000-01-01T00:00Z) -> duration in ms.

    ``2000-01-01T08:00:00.000Z`` -> 28800000 (8 h). Must be more than 0 and at most 1 day.
    """
    interval_ms = parse_iso_ms(text) - BITMEX_INTERVAL_EPOCH_MS
    if not 0 < interval_ms <= DAY_MS:
        raise ValueError(f"{text!r} is not a funding interval (2000-01-01T00:00Z + 0..24 h)")
    return interval_ms


def normalise_settlement_ms(ts_ms: int, tolerance_ms: int = SETTLEMENT_TOLERANCE_MS) -> int:
    """Snap a settlement time to its whole hour, removing exchange jitter.

    ``08:00:03`` and ``00:00:00.007`` belong to ``08:00`` and ``00:00`` (HAZARDS H2). A time
    further than ``tolerance_ms`` from the nearest whole hour raises ValueError.
    """
    nearest = (ts_ms + HOUR_MS // 2) // HOUR_MS * HOUR_MS
    if abs(ts_ms - nearest) > tolerance_ms:
        raise ValueError(
            f"{ms_to_iso(ts_ms)} is {abs(ts_ms - nearest) / SECOND_MS:g} s from the whole "
            f"hour {ms_to_iso(nearest)}: not a settlement time (tolerance "
            f"{tolerance_ms / SECOND_MS:g} s)"
        )
    return nearest


def parse_duration_ms(text: str) -> int:
    """A duration such as ``1m``, ``8h``, ``1d`` (units ms, s, m, h, d, w) -> ms."""
    m = _DURATION.match(text.strip())
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration such as 1m, 1h, 8h or 1d")
    return int(m.group(1)) * _DURATION_MS[m.group(2)]


def format_duration_ms(duration_ms: int) -> str:
    """Duration in ms -> the shortest exact form: 3600000 -> ``1h``, 90000 -> ``90s``."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _DURATION_MS[unit]
        if duration_ms and duration_ms % size == 0:
            return f"{duration_ms // size}{unit}"
    return f"{duration_ms}ms"


def format_age_s(seconds: float) -> str:
    """An age, rounded to the unit a reader wants: ``42 s`` (under 2 min), ``7 min`` (under
    2 h), ``5 h`` (under 2 days), ``2394 d``."""
    for unit, size, below in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172800)):
        if seconds < below:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


def ms_to_iso(ts_ms: int) -> str:
    """ms since the epoch -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, always with milliseconds)."""
    dt = _EPOCH + timedelta(milliseconds=ts_ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % SECOND_MS:03d}Z"


def _digits(text: str) -> str:
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{text!r} is not a non-negative integer timestamp")
    return digits


def _describe(ts_ms: int) -> str:
    try:
        return ms_to_iso(ts_ms)
    except OverflowError:
        return "far outside any calendar"
