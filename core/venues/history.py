"""Layouts of the history files venues publish (funding and bars), and where they are found.

A layout is data: which CSV columns or JSON keys hold a record's time, rate, interval and
prices, and what the venue's conventions make of them (where a bar's label sits inside the
bar, whether a rate is fixed one interval before it settles). Each venue package that has
downloads keeps its layouts in ``core/venues/<name>/history.py`` as ``LAYOUTS`` (a tuple of
:class:`Layout`); :func:`history_layouts` collects them over the registry
(:data:`core.venues.registry.PACKAGES`), so that the importer (``core.analysis.importer``)
reads any venue's files without naming one. Venue packages import this module, never each
other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from core.domain import timeutil
from core.domain.events import Venue
from core.domain.funding_caps import FundingCap
from core.venues import registry

Kind = Literal["funding", "bars"]
Source = Literal["csv", "json_objects", "json_arrays"]
#: How a funding record's interval is known: from its own column (read by
#: :attr:`Layout.interval_ms`), from the gap between consecutive settlements, or not at all
#: (bars). Per record, never a constant (HAZARDS H1).
IntervalKind = Literal["column", "gap", "none"]
#: Where a bar's time column sits in the bar: at its open (a Binance kline's ``open_time``),
#: or in its middle (a bar labelled ``t`` that covers [t - interval/2, t + interval/2)).
LabelAt = Literal["open", "middle"]


def hours_interval_ms(text: str) -> int:
    """An interval column in whole hours (``"8"``) -> ms; 1..24 h."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 24):
        raise ValueError(f"{text!r} is not a whole number of hours 1..24")
    return int(text) * timeutil.HOUR_MS


@dataclass(frozen=True)
class Layout:
    """Where one download layout keeps each value.

    ``fields`` are the CSV columns or JSON keys it requires (for JSON arrays, the names given
    to the positions, in order); a CSV file is detected by its header holding them. ``time``
    is the record's time column (ms, s, us or ns integers, or ISO 8601 UTC); ``iso_time`` an
    ISO copy of it that must agree. Funding: ``rate`` (a fraction per interval; written as a
    binary float when ``rate_is_float``), ``interval`` read by ``interval_ms`` (text -> ms,
    raising ValueError) when ``interval_kind`` is ``"column"``, ``mark`` the settlement mark
    price, ``symbol`` the symbol column; ``fixed_ahead``: the venue fixes each rate one
    interval before it settles (the importer adds a fixed ``funding_rate`` event then). Bars:
    ``label_at`` says where ``time`` sits in the bar; ``open_time``/``open_iso`` name columns
    stating the bar's open (ms / ISO), checked against it; ``volume`` in the venue's unit.
    JSON layouts are detected by ``json_match`` on the first record (numbers arrive as
    their source text); ``shape`` describes the layout in error messages.
    """

    name: str
    venue: Venue
    kind: Kind
    source: Source
    fields: tuple[str, ...]
    time: str
    shape: str = ""
    interval: str = ""
    interval_kind: IntervalKind = "none"
    interval_ms: Callable[[str], int] | None = None
    rate: str = ""
    rate_is_float: bool = False
    fixed_ahead: bool = False
    mark: str = ""
    symbol: str = ""
    iso_time: str = ""
    volume: str = ""
    label_at: LabelAt = "open"
    open_time: str = ""
    open_iso: str = ""
    json_match: Callable[[object], bool] | None = None


def aha_funding(venue: str) -> Layout:
    """The AHA-HH/optimising-funding-rate-arbitrage funding file of ``venue``
    (``funding_time,funding_time_iso,funding_rate``: the rate settled at ``funding_time``;
    the interval is the gap between settlements)."""
    return Layout(
        f"{venue}_funding_aha",
        venue,
        "funding",
        "csv",
        ("funding_time", "funding_time_iso", "funding_rate"),
        time="funding_time",
        iso_time="funding_time_iso",
        interval_kind="gap",
        rate="funding_rate",
    )


def aha_bars(venue: str, label_at: LabelAt) -> Layout:
    """The AHA 8 h bars of ``venue``; ``label_at`` says where a bar's time label sits in it
    (``open`` or ``middle``), checked against the file's own ``bar_start_inferred``."""
    return Layout(
        f"{venue}_bars_aha",
        venue,
        "bars",
        "csv",
        (
            "label_time",
            "label_time_iso",
            "bar_start_inferred",
            "bar_start_inferred_iso",
            "open",
            "high",
            "low",
            "close",
            "volume",
        ),
        time="label_time",
        iso_time="label_time_iso",
        label_at=label_at,
        open_time="bar_start_inferred",
        open_iso="bar_start_inferred_iso",
        volume="volume",
    )


@cache
def funding_caps() -> dict[tuple[str, str], FundingCap]:
    """Every registered venue's known funding caps, by (venue, symbol): the ``CAPS`` tuple of
    its ``history`` module (a symbol without one is not checked)."""
    out: dict[tuple[str, str], FundingCap] = {}
    for name in registry.names():
        package = registry.PACKAGES[name].rpartition(".")[0]
        try:
            module = importlib.import_module(f"{package}.history")
        except ModuleNotFoundError:
            continue
        for cap in getattr(module, "CAPS", ()):
            out[(name, cap.symbol)] = cap
    return out


def venue_names() -> list[str]:
    """Every registered venue, in registration order."""
    return registry.names()


@cache
def history_layouts() -> tuple[Layout, ...]:
    """The layouts of every registered venue that has a ``history`` module, in registration
    order (within a venue, in its module's order). Layout names are unique."""
    found: list[Layout] = []
    seen: set[str] = set()
    for name in registry.names():
        package = registry.PACKAGES[name].rpartition(".")[0]
        module_name = f"{package}.history"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (module_name, package):
                continue  # a venue without downloads to import
            raise
        for layout in module.LAYOUTS:
            if not isinstance(layout, Layout) or layout.venue != name:
                raise TypeError(f"{module_name}.LAYOUTS: {layout!r} is no {name} Layout")
            if layout.name in seen:
                raise ValueError(f"two history layouts named {layout.name!r}")
            seen.add(layout.name)
            found.append(layout)
    return tuple(found)
