"""``run_import``: read the inputs, merge them, clip to the window, write one replay file."""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.analysis.importer.bars import BarSet, read_bars
from core.analysis.importer.errors import BadLines, ImportDataError
from core.analysis.importer.funding import FundingRecord, check_same_rate, read_funding
from core.analysis.importer.layouts import (
    Layout,
    check_layout,
    detect_layout,
    parse_layout_name,
    symbol_from_filename,
)
from core.analysis.importer.readers import Row, csv_rows, json_records, read_text
from core.analysis.replay_arrow import ArrowReplayError, write_arrow
from core.domain import timeutil
from core.domain.events import (
    Bar,
    Event,
    InstrumentSpec,
    ReplayHeader,
    SourceFile,
    encode,
    sort_key,
)
from core.venues.history import venue_names

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote. ``skipped``/``merged`` are totals over the sources (per file in
    ``sources[i].skipped`` and ``merged_by_file``); ``clipped`` counts events outside the
    window; ``problems`` holds the message of every skipped line."""

    out: Path
    header: ReplayHeader
    sources: list[SourceFile]
    events: int
    counts: dict[str, int]
    skipped: int
    merged: int
    clipped: int
    merged_by_file: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Source:
    path: Path
    layout: Layout
    rows: int
    funding: list[FundingRecord]
    bars: BarSet | None
    symbols: list[str]
    events: int = 0


def run_import(
    inputs: list[Path],
    out: Path,
    instruments: list[InstrumentSpec],
    *,
    start_ts_ms: int | None = None,
    end_ts_ms: int | None = None,
    skip_bad: bool = False,
    symbols: dict[str, str] | None = None,
    layouts: dict[Path, str] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import exchange downloads into the replay file ``out`` (gzip when it ends in ``.gz``).

    Events are clipped to [``start_ts_ms``, ``end_ts_ms``). ``symbols`` maps a venue to the
    symbol of files that name none (else the file name tells it); ``layouts`` maps an input to
    a layout name (``NAME`` or ``NAME:INTERVAL``) instead of detecting it. A bad line raises
    :class:`ImportDataError` unless ``skip_bad``, which skips and counts it.
    """
    say = progress or (lambda _msg: None)
    if start_ts_ms is not None and end_ts_ms is not None and start_ts_ms >= end_ts_ms:
        raise ValueError("the window is empty: start must be before end")
    symbols = dict(symbols or {})
    venues = venue_names()
    for venue in symbols:
        if venue not in venues:
            raise ValueError(f"unknown venue {venue!r} in symbols; known: {', '.join(venues)}")
    names = Counter(p.name for p in inputs)
    twice = sorted(n for n, k in names.items() if k > 1)
    if twice:
        raise ValueError(f"inputs must have distinct file names; given twice: {', '.join(twice)}")
    given = _match_layouts(inputs, layouts or {})
    bad = BadLines(skip_bad=skip_bad)
    sources: list[_Source] = []
    merged = Counter[str]()
    for path in inputs:
        say(f"reading {path.name}")
        src, dup = _read_source(path, given.get(path), symbols, bad)
        merged[path.name] += dup
        sources.append(src)

    def inside(ts_ms: int) -> bool:
        return (start_ts_ms is None or ts_ms >= start_ts_ms) and (
            end_ts_ms is None or ts_ms < end_ts_ms
        )

    events, clipped = _merge(sources, inside, merged)
    if not events:
        raise ImportDataError(out.name, None, "no events inside the window")
    events.sort(key=lambda ev: (*sort_key(ev), ev.venue, ev.symbol))
    header = ReplayHeader(
        instruments=_instruments(events, instruments),
        start_ts_ms=events[0].ts_ms if start_ts_ms is None else start_ts_ms,
        end_ts_ms=events[-1].ts_ms + 1 if end_ts_ms is None else end_ts_ms,
        events=len(events),
        sources=[
            SourceFile(
                file=s.path.name,
                layout=s.layout.name,
                venue=s.layout.venue,
                symbol=",".join(s.symbols),
                rows=s.rows,
                events=s.events,
                skipped=bad.counts.get(s.path.name, 0),
            )
            for s in sources
        ],
    )
    write_replay(out, header, events)
    counts = Counter(type(ev).__struct_config__.tag for ev in events)
    result = ImportResult(
        out=out,
        header=header,
        sources=header.sources,
        events=len(events),
        counts={str(k): v for k, v in sorted(counts.items())},
        skipped=bad.total,
        merged=sum(merged.values()),
        clipped=clipped,
        merged_by_file={k: v for k, v in merged.items() if v},
        problems=list(bad.messages),
    )
    say(f"wrote {len(events)} events to {out}")
    return result


def write_replay(out: Path, header: ReplayHeader, events: list[Event]) -> None:
    """Write a replay file atomically: the header line, then one event a line (gzip when the
    name ends in ``.gz``, with a zero timestamp so that equal inputs give equal bytes); the
    columnar form when it ends in ``.arrow`` (:mod:`core.analysis.replay_arrow`)."""
    if out.suffix == ".arrow":
        try:
            write_arrow(out, header, events)
        except ArrowReplayError as exc:
            raise ValueError(str(exc)) from None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as raw:
        if out.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                _write_lines(gz.write, header, events)
        else:
            _write_lines(raw.write, header, events)
    os.replace(tmp, out)


def _write_lines(
    write: Callable[[bytes], object], header: ReplayHeader, events: list[Event]
) -> None:
    write(encode(header) + b"\n")
    for ev in events:
        write(encode(ev) + b"\n")


def _match_layouts(inputs: list[Path], layouts: dict[Path, str]) -> dict[Path, str]:
    resolved = {p.resolve(): p for p in inputs}
    out: dict[Path, str] = {}
    for key, name in layouts.items():
        path = resolved.get(Path(key).resolve())
        if path is None:
            raise ValueError(f"layout given for {key}, which is not an input")
        out[path] = name
    return out


def _read_source(
    path: Path, layout_name: str | None, symbols: dict[str, str], bad: BadLines
) -> tuple[_Source, int]:
    name = path.name
    try:
        text = read_text(path)
    except OSError as exc:
        raise ImportDataError(name, None, f"cannot read: {exc.strerror or exc}") from None
    bar_interval_ms: int | None = None
    if layout_name is not None:
        layout, bar_interval_ms = parse_layout_name(layout_name)
        check_layout(text, name, layout)
    else:
        layout = detect_layout(text, name)
    rows = list(_rows(text, name, layout))
    symbol: str | None = None
    if not layout.symbol:
        symbol = symbols.get(layout.venue) or symbol_from_filename(path)
        if symbol is None:
            raise ImportDataError(
                name,
                None,
                f"the file names no {layout.venue} symbol: give one as "
                f"--symbol {layout.venue}=SYMBOL",
            )
    if layout.kind == "funding":
        records, merged = read_funding(rows, layout, name, symbol, bad)
        names = sorted({r.symbol for r in records}) or ([symbol] if symbol else [])
        return _Source(path, layout, len(rows), records, None, names), merged
    assert symbol is not None
    bars = read_bars(rows, layout, path, symbol, bar_interval_ms, bad)
    return _Source(path, layout, len(rows), [], bars, [symbol]), 0


def _rows(text: str, name: str, layout: Layout) -> Iterator[Row | ImportDataError]:
    if layout.source == "csv":
        yield from csv_rows(text, name)
        return
    for line, record, value in json_records(text, name):
        if layout.source == "json_objects" and isinstance(value, dict):
            yield Row(line, record, value)
        elif layout.source == "json_arrays" and isinstance(value, list):
            if len(value) != len(layout.fields):
                yield ImportDataError(
                    name,
                    line,
                    f"{len(value)} values where {layout.name} has "
                    f"{len(layout.fields)} ({', '.join(layout.fields)})",
                    record=record,
                )
                continue
            yield Row(line, record, dict(zip(layout.fields, value, strict=True)))
        else:
            want = "an object" if layout.source == "json_objects" else "a list"
            yield ImportDataError(name, line, f"expected {want}", record=record)


def _merge(
    sources: list[_Source], inside: Callable[[int], bool], merged: Counter[str]
) -> tuple[list[Event], int]:
    """All events inside the window, one per settlement and per bar; count the clipped."""
    events: list[Event] = []
    clipped = 0
    settled: dict[tuple[str, str, int], FundingRecord] = {}
    bar_seen: dict[tuple[str, str, int], tuple[Bar, str, int]] = {}
    bar_interval: dict[tuple[str, str], tuple[int, str]] = {}
    for src in sources:
        field = src.layout.rate
        for rec in src.funding:
            candidates: list[Event] = [rec.settled()]
            if rec.fixed_ahead:
                candidates.append(rec.announced())
            kept = [ev for ev in candidates if inside(ev.ts_ms)]
            clipped += len(candidates) - len(kept)
            if not kept:
                continue
            key = (rec.venue, rec.symbol, rec.ts_ms)
            first = settled.get(key)
            if first is not None:
                check_same_rate(first, rec, field)
                merged[src.path.name] += 1
                continue
            settled[key] = rec
            events.extend(kept)
            src.events += len(kept)
        if src.bars is None:
            continue
        bs = src.bars
        ikey = (bs.venue, bs.symbol)
        other = bar_interval.setdefault(ikey, (bs.interval_ms, src.path.name))
        if other[0] != bs.interval_ms:
            raise ImportDataError(
                src.path.name,
                None,
                f"{timeutil.format_duration_ms(bs.interval_ms)} bars of "
                f"{bs.venue} {bs.symbol}, but {other[1]} has "
                f"{timeutil.format_duration_ms(other[0])} bars: import one interval",
            )
        for bar, line in zip(bs.bars, bs.lines, strict=True):
            if not inside(bar.ts_ms):
                clipped += 1
                continue
            bkey = (bar.venue, bar.symbol, bar.open_ts_ms)
            seen = bar_seen.get(bkey)
            if seen is not None:
                _check_same_bar(seen, bar, src.path.name, line)
                merged[src.path.name] += 1
                continue
            bar_seen[bkey] = (bar, src.path.name, line)
            events.append(bar)
            src.events += 1
    return events, clipped


def _check_same_bar(seen: tuple[Bar, str, int], bar: Bar, file: str, line: int) -> None:
    first, first_file, first_line = seen
    if (first.open, first.high, first.low, first.close, first.volume) == (
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
    ):
        return
    raise ImportDataError(
        file,
        line,
        f"the {bar.venue} {bar.symbol} bar opening "
        f"{timeutil.ms_to_iso(bar.open_ts_ms)} differs from the one at {first_file}:{first_line}",
    )


def _instruments(events: list[Event], instruments: list[InstrumentSpec]) -> list[InstrumentSpec]:
    """The specs of the instruments that occur in ``events``, in the order given."""
    specs: dict[tuple[str, str], InstrumentSpec] = {}
    for spec in instruments:
        if (spec.venue, spec.symbol) in specs:
            raise ValueError(f"two instrument specs for {spec.venue} {spec.symbol}")
        specs[(spec.venue, spec.symbol)] = spec
    used = {(ev.venue, ev.symbol) for ev in events}
    missing = sorted(used - specs.keys())
    if missing:
        raise ValueError(
            "no instrument spec for "
            + ", ".join(f"{v} {s}" for v, s in missing)
            + ": add it to the configuration"
        )
    return [spec for key, spec in specs.items() if key in used]
