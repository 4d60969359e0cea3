"""``arbtui scan``: the funding scanner, headless. Every perpetual two live venues both list,
ranked by the net carry a desk would earn (:mod:`core.domain.scan`), printed once or every
``--watch`` seconds.

    arbtui scan [--venues A,B] [--min-apr X] [--top N] [--json] [--watch S]
                [--horizon-hours H] [--notional USD] [--min-volume USD] [--min-oi USD]

Output: a rich table (one row per pair: short and long leg, the next-estimate spread as APR,
the last settled spread, the 1/3/7-day averages, basis, round-trip fees, net carry over the
horizon, net APR and USD, both legs' open interest in millions of USD (``?`` unknown), intervals
and flags: ``oi?`` = a ``--min-oi`` is set and a leg's open interest is unknown, so the row was
kept unchecked), or with ``--json`` one JSON object per line (every figure as a number:
fractions, not percent; ``null`` where unknown; per leg ``open_interest`` in the venue's
contracts, ``open_interest_age_s`` for a figure read apart from the quotes, and
``open_interest_note`` saying why one is unknown). Open interest that a venue serves per symbol
only (Binance) is read for the matched symbols only; the scan waits for it. Defaults: the
horizon is ``[strategy] holding_hours``, the notional ``[sizing] base_notional_usd``, the
venues' REST hosts ``[feeds]``, taker fees those of the configured instruments.

Exit codes: 0 fine; 1 a venue could not be read (the others are still printed; with
``--watch`` the scan goes on and says so on stderr); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from core.domain.config import Settings
from core.domain.errors import EXIT_BAD_INPUT, EXIT_FAILED
from core.domain.scan import HOURS_PER_YEAR, Leg, Opportunity, ScanSettings
from core.domain.timeutil import format_age_s, ms_to_iso
from core.runtime.scanner import Scanner, ScanResult, live_venues, wall_ms


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The scan's arguments."""
    live = ",".join(live_venues(wall_ms()))
    parser.add_argument(
        "--venues", metavar="A,B", help=f"comma-separated venues (default: every live one: {live})"
    )
    parser.add_argument(
        "--min-apr", type=float, metavar="PCT", help="drop rows below this net APR, percent"
    )
    parser.add_argument("--top", type=int, default=20, metavar="N", help="rows shown (default 20)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument(
        "--watch", type=float, metavar="S", help="refresh every S seconds until Ctrl+C"
    )
    parser.add_argument(
        "--horizon-hours", type=float, metavar="H", help="hold for H hours (default [strategy])"
    )
    parser.add_argument(
        "--notional", type=float, metavar="USD", help="USD per leg (default [sizing])"
    )
    parser.add_argument(
        "--min-volume", type=float, default=0.0, metavar="USD", help="24 h volume, both legs"
    )
    parser.add_argument(
        "--min-oi", type=float, default=0.0, metavar="USD", help="open interest, both legs"
    )


def scan_settings(args: argparse.Namespace, settings: Settings) -> ScanSettings:
    """The ranking's settings from the arguments and the config."""
    horizon = args.horizon_hours or settings.strategy.holding_hours
    notional = args.notional or float(settings.sizing.base_notional_usd)
    if horizon <= 0 or notional <= 0:
        raise ValueError("--horizon-hours and --notional must be > 0")
    return ScanSettings(
        horizon_h=horizon,
        notional_usd=notional,
        min_net_apr_pct=args.min_apr,
        min_volume_usd=args.min_volume,
        min_open_interest_usd=args.min_oi,
    )


def oi_age_s(leg: Leg, now_ms: int) -> float | None:
    """Seconds since the venue stated ``leg``'s open interest when it was read apart from the
    quotes (None: it came with the quotes, or is unknown)."""
    read = leg.open_interest
    return None if read is None or read.at_ms is None else (now_ms - read.at_ms) / 1000


def _leg_json(leg: Leg, now_ms: int) -> dict[str, Any]:
    p, read = leg.perp, leg.open_interest
    return {
        "venue": p.venue,
        "symbol": p.symbol,
        "kind": p.kind,
        "settle": p.settle,
        "mark": p.mark,
        "index": p.index,
        "next_rate": p.next_rate,
        "next_funding_ms": p.next_funding_ms,
        "interval_h": p.interval_h,
        "rate_per_hour": leg.rate_per_hour,
        "settled_rate": leg.settled_rate,
        "settled_ms": leg.settled_ms,
        "cap": p.cap,
        "floor": p.floor,
        "at_cap": leg.at_cap,
        "taker_fee": p.taker_fee,
        "tick": str(p.tick),
        "lot": str(p.lot),
        "min_qty": str(p.min_qty),
        "min_notional": str(p.min_notional),
        "volume_24h_usd": p.volume_24h_usd,
        "open_interest_usd": leg.open_interest_usd,
        "open_interest": None if read is None else read.contracts,
        "open_interest_age_s": oi_age_s(leg, now_ms),
        "open_interest_note": None if read is None else read.note or None,
        "funding_next": leg.funding_next,
        "funding_next_usd": leg.funding_next_usd,
    }


def row_json(rank: int, o: Opportunity, res: ScanResult, scan: ScanSettings) -> dict[str, Any]:
    """One JSON line of the ranking."""
    return {
        "ts_ms": res.now_ms,
        "rank": rank,
        "key": o.key,
        "asset": o.asset,
        "short": _leg_json(o.short, res.now_ms),
        "long": _leg_json(o.long, res.now_ms),
        "spread_per_hour": o.spread_per_hour,
        "spread_apr": o.spread_apr,
        "settled_spread_per_hour": o.settled_spread_per_hour,
        "avg_spread_per_hour": {
            f"{d}d": v for d, v in zip(scan.windows_days, o.averages, strict=True)
        },
        "basis": o.basis,
        "fees": o.fees,
        "horizon_h": scan.horizon_h,
        "notional_usd": scan.notional_usd,
        "net_carry": o.net_carry,
        "net_apr": o.net_apr,
        "net_carry_usd": o.net_carry_usd,
        "intervals_differ": o.intervals_differ,
        "capped": o.capped,
        "oi_unchecked": o.oi_unchecked,
    }


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}"


def _apr(per_hour: float | None) -> str:
    return _pct(None if per_hour is None else per_hour * HOURS_PER_YEAR, 1)


def oi_text(leg: Leg) -> str:
    """A leg's open interest in millions of USD, ``?`` when unknown."""
    usd = leg.open_interest_usd
    return "?" if usd is None else f"{usd / 1e6:,.1f}"


def oi_oldest(res: ScanResult, top: int) -> str:
    """``, open interest up to N s old`` over the rows shown that read it apart (or "")."""
    ages = [
        age
        for o in res.rows[:top]
        for leg in (o.short, o.long)
        if (age := oi_age_s(leg, res.now_ms)) is not None
    ]
    return f", open interest up to {format_age_s(max(ages))} old" if ages else ""


def _leg_text(leg: Leg) -> str:
    p = leg.perp
    cap = " CAP" if leg.at_cap else ""
    return f"{p.venue} {p.symbol} {p.next_rate * 100:.4f}%/{p.interval_h:g}h{cap}"


FULL_WIDTH = 170
"""Columns the full table needs; a narrower terminal (or a pipe: 80) gets the compact one."""
COMPACT = ("#", "asset", "short (next rate/interval)", "long", "net APR %", "net USD", "flags")


def table(res: ScanResult, scan: ScanSettings, top: int, width: int = FULL_WIDTH) -> Any:
    """The ranking as a rich Table: every column from :data:`FULL_WIDTH` columns, else the
    compact ones (:data:`COMPACT`; the title says so)."""
    from rich.table import Table

    compact = width < FULL_WIDTH
    note = (
        f" (compact: {FULL_WIDTH}+ columns show every figure, --json gives them all)"
        if compact
        else ""
    )
    t = Table(
        title=f"funding scan {ms_to_iso(res.now_ms)}: {len(res.rows)} of {res.pairs} pairs, "
        f"horizon {scan.horizon_h:g} h, {scan.notional_usd:,.0f} USD a leg{oi_oldest(res, top)}"
        f"{note}",
        title_justify="left",
    )
    names = ("#", "asset", "short (next rate/interval)", "long", "APR % next",
             "APR % settled", "1d", "3d", "7d", "basis %", "fees %",
             f"net % {scan.horizon_h:g}h", "net APR %", "net USD", "OI M USD s/l",
             "flags")  # fmt: skip
    keep = [i for i, name in enumerate(names) if not compact or name in COMPACT]
    for i in keep:
        name = names[i]
        left = name in ("asset", "flags", "long") or "(" in name
        shown = "short" if compact and i == 2 else name  # each leg: venue symbol rate/h
        t.add_column(shown, justify="left" if left else "right")
    for i, o in enumerate(res.rows[:top], 1):
        flags = " ".join(
            f
            for f, on in (
                ("intervals", o.intervals_differ), ("cap", o.capped), ("oi?", o.oi_unchecked),
            )
            if on
        )  # fmt: skip
        avgs = [_apr(a) for a in o.averages]
        cells = (
            str(i), o.asset, _leg_text(o.short), _leg_text(o.long), _apr(o.spread_per_hour),
            _apr(o.settled_spread_per_hour), *avgs, _pct(o.basis, 3), _pct(o.fees, 3),
            _pct(o.net_carry, 3), _pct(o.net_apr, 1), f"{o.net_carry_usd:,.2f}",
            f"{oi_text(o.short)}/{oi_text(o.long)}", flags,
        )  # fmt: skip
        t.add_row(*(cells[k] for k in keep))
    return t


def emit(
    res: ScanResult, scan: ScanSettings, top: int, as_json: bool, *, redraw: bool = False
) -> None:
    """Print one refresh to stdout and the venues' failures to stderr. ``redraw``: clear a
    terminal first (``--watch`` with a table), so the table stays in place."""
    if as_json:
        out = sys.stdout
        for i, o in enumerate(res.rows[:top], 1):
            out.write(json.dumps(row_json(i, o, res, scan), ensure_ascii=False) + "\n")
        out.flush()
    else:
        from rich.console import Console

        console = Console(soft_wrap=False)
        if redraw and console.is_terminal:
            console.clear()
        console.print(table(res, scan, top, console.width))
    for venue, why in res.errors.items():
        print(f"arbtui scan: {venue} not read: {why}", file=sys.stderr)
    for line in res.warnings:
        print(f"arbtui scan: warning: {line}", file=sys.stderr)


async def _run(settings: Settings, scan: ScanSettings, args: argparse.Namespace) -> int:
    venues = [v.strip() for v in (args.venues or "").split(",") if v.strip()]
    scanner = Scanner(
        settings,
        scan,
        venues,
        history_rows=max(0, args.top),
        on_wait=lambda text: print(f"arbtui scan: {text} ...", file=sys.stderr, flush=True),
    )
    try:
        while True:
            res = await scanner.refresh()
            emit(res, scan, max(0, args.top), args.json, redraw=bool(args.watch))
            if not args.watch:
                return EXIT_FAILED if res.errors else 0
            await asyncio.sleep(args.watch)
    finally:
        await scanner.close()


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Scan once (or every ``--watch`` seconds until Ctrl+C); see the module docstring."""
    try:
        scan = scan_settings(args, settings)
    except ValueError as exc:
        print(f"arbtui scan: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.watch is not None and args.watch <= 0:
        print("arbtui scan: --watch must be > 0 seconds", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return asyncio.run(_run(settings, scan, args))
    except KeyboardInterrupt:
        return 0
