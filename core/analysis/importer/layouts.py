"""The download layouts the importer reads, and how a file's layout, venue and symbol are found.

The layouts live in the venue packages (``core/venues/<name>/history.py``) and are collected
by :func:`core.venues.history.history_layouts`; nothing here names a venue. A layout is
detected from a CSV header line or the shape of a JSON list; ``NAME`` or, for bars,
``NAME:INTERVAL`` (``bitmex_bins:1m``) names one explicitly. When several venues publish the
same header, the venue named in the file name (a ``_``/``-``/``.`` separated token) decides.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.analysis.importer.errors import ImportDataError
from core.analysis.importer.readers import csv_header, is_json, json_records
from core.domain import timeutil
from core.venues.history import IntervalKind, Kind, Layout, Source, history_layouts

__all__ = [
    "LAYOUTS",
    "IntervalKind",
    "Kind",
    "Layout",
    "Source",
    "check_layout",
    "detect_layout",
    "interval_from_filename",
    "parse_layout_name",
    "symbol_from_filename",
]

#: Every layout of every registered venue, by name (registration order).
LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in history_layouts()}

_BAR_INTERVAL_TOKEN = re.compile(r"\d+[mhdw]\Z")
_QUOTES = ("USDT", "USDC", "BUSD", "USD")


def parse_layout_name(spec: str) -> tuple[Layout, int | None]:
    """``NAME`` or ``NAME:INTERVAL`` -> the layout and the bar interval in ms (or None)."""
    name, _, interval = spec.partition(":")
    layout = LAYOUTS.get(name.strip())
    if layout is None:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
    if not interval:
        return layout, None
    if layout.kind != "bars":
        raise ValueError(f"layout {layout.name} takes no interval (given {interval!r})")
    return layout, timeutil.parse_duration_ms(interval)


def detect_layout(text: str, name: str) -> Layout:
    """The layout of a file's text, from its CSV header or its JSON shape."""
    if is_json(text):
        return _detect_json(text, name)
    header, line = csv_header(text)
    if not header:
        raise ImportDataError(name, None, "the file is empty")
    present = set(header)
    found = [lay for lay in LAYOUTS.values() if lay.source == "csv" and present >= set(lay.fields)]
    if len(found) > 1:
        return _by_venue_in_name(found, name, line, "CSV header " + repr(",".join(header)))
    if len(found) != 1:
        raise ImportDataError(
            name,
            line,
            f"unknown CSV header {','.join(header)!r}; known layouts: "
            + "; ".join(
                f"{lay.name} ({','.join(lay.fields)})"
                for lay in LAYOUTS.values()
                if lay.source == "csv"
            ),
        )
    return found[0]


def check_layout(text: str, name: str, layout: Layout) -> None:
    """Refuse a layout named explicitly that the file cannot be: JSON given a CSV layout or
    the other way round, or a CSV header without the layout's columns."""
    if is_json(text) != (layout.source != "csv"):
        kind = "JSON" if is_json(text) else "CSV"
        raise ImportDataError(name, None, f"layout {layout.name} does not read {kind} files")
    if layout.source == "csv":
        header, line = csv_header(text)
        missing = [f for f in layout.fields if f not in header]
        if missing:
            raise ImportDataError(
                name, line, f"layout {layout.name} needs the columns {','.join(missing)}"
            )


def _detect_json(text: str, name: str) -> Layout:
    json_layouts = [lay for lay in LAYOUTS.values() if lay.json_match is not None]
    for line, _, first in json_records(text, name):
        found = [
            lay for lay in json_layouts if lay.json_match is not None and lay.json_match(first)
        ]
        if len(found) > 1:
            return _by_venue_in_name(found, name, line, "JSON record shape")
        if found:
            return found[0]
        raise ImportDataError(
            name,
            line,
            "unknown JSON record shape; known: " + ", ".join(lay.shape for lay in json_layouts),
        )
    raise ImportDataError(name, None, "the JSON list is empty")


def _by_venue_in_name(found: list[Layout], name: str, line: int, what: str) -> Layout:
    """The one of several matching layouts whose venue the file name names."""
    tokens = {t.lower() for t in re.split(r"[_\-. ]+", name) if t}
    named = [lay for lay in found if lay.venue.lower() in tokens]
    if len(named) == 1:
        return named[0]
    raise ImportDataError(
        name,
        line,
        f"the {what} fits the layouts {', '.join(lay.name for lay in found)}: name the venue "
        "in the file name or give --layout FILE=NAME",
    )


def symbol_from_filename(path: Path) -> str | None:
    """A symbol named in a file name: ``binance_um_BTCUSDT_1h_...`` -> ``BTCUSDT``,
    ``XRP_USDT-8h-funding_rate.json`` -> ``XRPUSDT``; None when there is none."""
    tokens = [t for t in re.split(r"[_\-. ]+", path.name) if t]
    for i, tok in enumerate(tokens):
        if not (tok.isupper() and tok.isalnum()):
            continue
        if any(tok.endswith(q) and len(tok) > len(q) for q in _QUOTES):
            return tok
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in _QUOTES and tok not in _QUOTES:
            return tok + nxt
    return None


def interval_from_filename(path: Path) -> int | None:
    """A bar interval named in a file name (``..._1h_...``, ``-1m-``) in ms, or None."""
    for tok in re.split(r"[_\-. ]+", path.name):
        if _BAR_INTERVAL_TOKEN.match(tok):
            return timeutil.parse_duration_ms(tok)
    return None
