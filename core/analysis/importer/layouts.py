"""The download layouts the importer reads, and how a file's layout, venue and symbol are found.

A layout is data: which fields hold the time, the rate, the interval, the prices. It is
detected from a CSV header line or the shape of a JSON list; ``NAME`` or, for bars,
``NAME:INTERVAL`` (``bitmex_bins:1m``) names one explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.analysis.importer.errors import ImportDataError
from core.analysis.importer.readers import csv_header, is_json, json_records
from core.domain import timeutil
from core.domain.events import Venue

Kind = Literal["funding", "bars"]
Source = Literal["csv", "json_objects", "json_arrays"]
#: How a funding record's interval is known: an hours column, a BitMEX interval date, or the
#: gap between consecutive settlements (HAZARDS H1: per record, never a constant).
IntervalKind = Literal["hours", "bitmex_date", "gap", "none"]


@dataclass(frozen=True)
class Layout:
    """Where a layout keeps each value. ``fields`` are the CSV columns or JSON keys it
    requires (for JSON arrays, the names given to the positions, in order)."""

    name: str
    venue: Venue
    kind: Kind
    source: Source
    fields: tuple[str, ...]
    time: str
    interval: str = ""
    interval_kind: IntervalKind = "none"
    rate: str = ""
    rate_is_float: bool = False
    mark: str = ""
    symbol: str = ""
    iso_time: str = ""
    volume: str = ""


LAYOUTS: dict[str, Layout] = {
    lay.name: lay
    for lay in (
        Layout(
            "binance_funding_api",
            "binance",
            "funding",
            "csv",
            ("funding_time", "funding_interval_hours", "funding_rate"),
            time="funding_time",
            interval="funding_interval_hours",
            interval_kind="hours",
            rate="funding_rate",
        ),
        Layout(
            "binance_funding_vision",
            "binance",
            "funding",
            "csv",
            ("calc_time", "funding_interval_hours", "last_funding_rate"),
            time="calc_time",
            interval="funding_interval_hours",
            interval_kind="hours",
            rate="last_funding_rate",
        ),
        Layout(
            "binance_funding_rest",
            "binance",
            "funding",
            "json_objects",
            ("symbol", "fundingTime", "fundingRate"),
            time="fundingTime",
            interval_kind="gap",
            rate="fundingRate",
            mark="markPrice",
            symbol="symbol",
        ),
        Layout(
            "freqtrade_funding",
            "binance",
            "funding",
            "json_arrays",
            ("time", "rate", "high", "low", "close", "volume"),
            time="time",
            interval_kind="gap",
            rate="rate",
            rate_is_float=True,
        ),
        Layout(
            "bitmex_funding",
            "bitmex",
            "funding",
            "csv",
            ("timestamp", "symbol", "fundingInterval", "fundingRate"),
            time="timestamp",
            interval="fundingInterval",
            interval_kind="bitmex_date",
            rate="fundingRate",
            rate_is_float=True,
            symbol="symbol",
        ),
        Layout(
            "binance_klines",
            "binance",
            "bars",
            "csv",
            ("open_time", "open", "high", "low", "close", "volume"),
            time="open_time",
            volume="volume",
        ),
        Layout(
            "freqtrade_mark_klines",
            "binance",
            "bars",
            "json_arrays",
            ("time", "open", "high", "low", "close", "volume"),
            time="time",
            volume="volume",
        ),
        Layout(
            "bitmex_bins",
            "bitmex",
            "bars",
            "csv",
            ("open_time", "open_time_iso", "open", "high", "low", "close", "volume_contracts_usd"),
            time="open_time",
            iso_time="open_time_iso",
            volume="volume_contracts_usd",
        ),
    )
}

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
    for line, _, first in json_records(text, name):
        if isinstance(first, dict) and {"fundingTime", "fundingRate"} <= first.keys():
            return LAYOUTS["binance_funding_rest"]
        if isinstance(first, list) and len(first) == 6:
            tail = first[2:]
            if all(isinstance(v, str) and _is_zero(v) for v in tail):
                return LAYOUTS["freqtrade_funding"]
            return LAYOUTS["freqtrade_mark_klines"]
        raise ImportDataError(
            name,
            line,
            "unknown JSON record shape; known: Binance fundingRate objects, "
            "freqtrade funding [ts, rate, 0, 0, 0, 0], freqtrade klines [ts, o, h, l, c, v]",
        )
    raise ImportDataError(name, None, "the JSON list is empty")


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0.0
    except ValueError:
        return False


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
