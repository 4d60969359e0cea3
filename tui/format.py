"""Number and time formatting for the console, with units.

Pure functions from engine values to short strings of fixed meaning; no Textual, no engine
state. ``None`` always renders as an em dash so that a missing value never looks like a zero.
Rates are fractions (0.0001 = 0.01 %), times UTC milliseconds since the epoch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

DASH = "—"
"""Shown for a value that is not known (None)."""


def ts_iso(ts_ms: int | None) -> str:
    """UTC ms since the epoch as ISO 8601 to the second, e.g. ``2020-03-12T08:00:00Z``;
    ``waiting for data`` for 0 (the engine's clock before its first event)."""
    if ts_ms is None:
        return DASH
    if ts_ms <= 0:
        return "waiting for data"
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(ts_ms: int | None) -> str:
    """UTC ms since the epoch as ``MM-DD HH:MM`` (compact, for log lines and tables); a dash
    for 0 (logged before the first event gave the engine its clock)."""
    if ts_ms is None or ts_ms <= 0:
        return DASH
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%m-%d %H:%M")


def log_time(ts_ms: int | None) -> str:
    """UTC ms since the epoch as ``MM-DD HH:MM:SS`` (log lines); a dash for 0 (logged before
    the first event gave the engine its clock)."""
    if ts_ms is None or ts_ms <= 0:
        return DASH
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%m-%d %H:%M:%S")


def countdown(ms: int | None) -> str:
    """A duration in ms as ``HH:MM:SS`` (``1d02:03:04`` past a day); negative clamps to 0."""
    if ms is None:
        return DASH
    s = max(0, ms) // 1000
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    body = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{d}d{body}" if d else body


def rate_pct(rate: Decimal | float | None, digits: int = 4) -> str:
    """A rate as a fraction (0.0001) shown in percent with sign: ``+0.0100%``."""
    if rate is None:
        return DASH
    return f"{float(rate) * 100:+.{digits}f}%"


def apr_pct(apr: float | None) -> str:
    """A fraction per year (0.219) in percent: ``+21.90%``."""
    if apr is None:
        return DASH
    return f"{apr * 100:+.2f}%"


def pct(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """A value that is already in percent (1.5 = 1.5 %): ``1.50%``."""
    if value is None:
        return DASH
    value = value + 0.0  # no "-0.0"
    if round(value, digits) == 0:
        value = 0.0
    return f"{value:+.{digits}f}%" if sign else f"{value:.{digits}f}%"


def usd(value: float | Decimal | None, digits: int = 2, sign: bool = False) -> str:
    """An amount in USD with thousands separators and no currency sign: ``12,345.67``."""
    if value is None:
        return DASH
    return f"{float(value):+,.{digits}f}" if sign else f"{float(value):,.{digits}f}"


def step_decimals(step: Decimal | None, default: int = 2) -> int:
    """The decimals a value on a grid of ``step`` needs (a spec's ``tick`` or ``lot``):
    ``0.0001`` -> 4, ``0.5`` -> 1, ``0.10`` -> 1, ``1`` and ``10`` -> 0; ``default`` when
    the step is unknown (None or not positive)."""
    if step is None or not step > 0:
        return default
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else default


def price(value: float | Decimal | None, tick: Decimal | None = None) -> str:
    """A price in quote currency with thousands separators, to the decimals of the
    instrument's ``tick`` (:class:`~core.domain.events.InstrumentSpec` ``tick``, the venue's
    price step): XRPUSDT (tick 0.0001) ``0.6234``, BTCUSDT on Binance (0.01)
    ``67,646.46``, on Bybit (0.1) ``63,127.0``; two decimals when the tick is unknown."""
    return usd(value, step_decimals(tick))


def btc(value: float | Decimal | None, sign: bool = True) -> str:
    """A BTC amount, four decimals, signed by default: ``+0.5000``."""
    if value is None:
        return DASH
    return f"{float(value):+.4f}" if sign else f"{float(value):.4f}"


def qty(value: Decimal | float | None, unit: str, lot: Decimal | None = None) -> str:
    """A signed quantity in its own unit, to the decimals of the instrument's ``lot`` (its
    quantity step: XRPUSDT lot 0.1 ``+14,218.4``, BTCUSDT lot 0.001 ``-0.064``); without a
    lot, contracts as integers (``-10,000``) and other units to four decimals (``+0.5000``)."""
    if value is None:
        return DASH
    if lot is not None and lot > 0:
        return f"{float(value):+,.{step_decimals(lot)}f}"
    if unit.lower().startswith("contract"):
        return f"{float(value):+,.0f}"
    return f"{float(value):+,.4f}"


def amount(value: Decimal | float | None, currency: str) -> str:
    """A PnL or funding amount in ``currency``: XBT/BTC to six decimals, else two."""
    if value is None:
        return DASH
    if currency.upper() in ("XBT", "BTC"):
        return f"{float(value):+.6f}"
    return f"{float(value):+,.2f}"


def speed(value: float | None) -> str:
    """Replay speed as a multiple of wall time: ``x60``; None (as fast as possible) is ``max``."""
    if value is None:
        return "max"
    if value == int(value):
        return f"x{int(value):,}"
    return f"x{value:g}"


def progress(done: int, total: int) -> str:
    """Replay progress as percent of events: ``42.5%``; unknown total shows the count."""
    if total <= 0:
        return f"{done:,} ev"
    return f"{min(100.0, 100.0 * done / total):.1f}%"


def interval(hours: float) -> str:
    """A funding interval in hours: ``8h``, ``0.5h``."""
    return f"{hours:g}h"


def size(value: Decimal | float | None, lot: Decimal | None = None) -> str:
    """An order size in the venue's own unit, unsigned, to the decimals of the instrument's
    ``lot`` when known (lot 0.1: ``5,951.7``; lot 1: ``7,853``); without a lot, whole
    numbers (contracts) without decimals (``10,000``), fractions (BTC) to four decimals
    (``0.2500``)."""
    if value is None:
        return DASH
    v = float(value)
    if lot is not None and lot > 0:
        return f"{v:,.{step_decimals(lot)}f}"
    if v == int(v) and abs(v) >= 1:
        return f"{v:,.0f}"
    return f"{v:,.4f}"
