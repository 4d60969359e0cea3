"""Arguments and entry of ``arbtui import`` (the console's CLI wires them to a subcommand)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.analysis.importer.build import ImportResult, run_import
from core.analysis.importer.errors import ImportDataError
from core.analysis.importer.layouts import LAYOUTS
from core.domain import timeutil
from core.domain.config import Settings
from core.domain.events import InstrumentSpec

#: Skipped-line messages printed to stderr before "... and N more".
MAX_PROBLEMS_SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the import arguments to ``parser``."""
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="exchange downloads (CSV or JSON, optionally .gz)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="replay file to write (gzip when it ends in .gz; columnar, memory-mapped "
        "reads, when it ends in .arrow: needs arbtui[arrow])",
    )
    parser.add_argument(
        "--start", metavar="WHEN", help="first instant kept, UTC: 2020-03-01 or 2020-03-01T08:00"
    )
    parser.add_argument(
        "--end", metavar="WHEN", help="first instant no longer kept (exclusive), UTC"
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip and count bad lines instead of stopping at the first",
    )
    parser.add_argument(
        "--symbol",
        action="append",
        default=[],
        metavar="VENUE=SYMBOL",
        help="symbol of files whose name and rows name none (VENUE is a registered venue)",
    )
    parser.add_argument(
        "--layout",
        action="append",
        default=[],
        metavar="FILE=NAME",
        help="layout of FILE instead of detecting it; NAME[:INTERVAL] for bars; "
        f"names: {', '.join(LAYOUTS)}",
    )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """``arbtui import``: the config's instruments give the contract specs."""
    return run(args, list(settings.instruments.values()))


def run(args: argparse.Namespace, instruments: list[InstrumentSpec]) -> int:
    """Run the import; print one line per source and a total. Exit code 0, or 2 on error.

    A single input that is already a replay file (JSON lines or columnar) is rewritten in the
    form ``--out`` names (``.arrow`` columnar, ``.jsonl.gz``, ``.jsonl``), events unchanged."""
    if len(args.inputs) == 1 and _is_replay(args.inputs[0]):
        return _convert(args)
    try:
        result = run_import(
            list(args.inputs),
            args.out,
            instruments,
            start_ts_ms=_when(args.start, "--start"),
            end_ts_ms=_when(args.end, "--end"),
            skip_bad=bool(args.skip_bad),
            symbols=_pairs(args.symbol, "--symbol"),
            layouts={Path(k): v for k, v in _pairs(args.layout, "--layout").items()},
        )
    except (ImportDataError, ValueError, OSError) as exc:
        print(f"arbtui import: error: {exc}", file=sys.stderr)
        return 2
    for line in summary_lines(result):
        print(line)
    shown = result.problems[:MAX_PROBLEMS_SHOWN]
    for msg in shown:
        print(f"skipped: {msg}", file=sys.stderr)
    if len(result.problems) > len(shown):
        print(f"... and {len(result.problems) - len(shown)} more skipped", file=sys.stderr)
    return 0


def _is_replay(path: Path) -> bool:
    """True when ``path`` is a replay file: a columnar one, or JSON lines with a header."""
    from core.analysis.replay import ReplayError, iter_replay

    try:
        iter_replay(path)
    except (ReplayError, OSError):
        return False
    return True


def _convert(args: argparse.Namespace) -> int:
    from core.analysis.replay import ReplayError, convert_replay
    from core.venues.history import funding_caps

    if args.start or args.end or args.symbol or args.layout:
        print(
            "arbtui import: error: converting a replay file takes only --out "
            "(no --start, --end, --symbol or --layout)",
            file=sys.stderr,
        )
        return 2
    try:
        out = convert_replay(args.inputs[0], args.out, funding_caps())
    except (ReplayError, OSError) as exc:
        print(f"arbtui import: error: {exc}", file=sys.stderr)
        return 2
    form = "columnar (Arrow IPC)" if out.suffix == ".arrow" else "JSON lines"
    print(f"{args.inputs[0]}: a replay file -> {out}, {form}")
    return 0


def summary_lines(result: ImportResult) -> list[str]:
    """One line per source, then the total."""
    lines = [
        f"{s.file}: {s.layout} {s.venue} {s.symbol}: {s.rows} rows -> {s.events} events"
        f", {s.skipped} skipped, {result.merged_by_file.get(s.file, 0)} merged"
        for s in result.sources
    ]
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    h = result.header
    lines.append(
        f"total: {result.events} events ({counts}) from {timeutil.ms_to_iso(h.start_ts_ms)} "
        f"to {timeutil.ms_to_iso(h.end_ts_ms)}; {result.skipped} skipped, {result.merged} "
        f"merged, {result.clipped} outside the window -> {result.out}"
    )
    return lines


def _when(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return timeutil.check_range_ms(timeutil.parse_iso_ms(text))
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.rpartition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out
