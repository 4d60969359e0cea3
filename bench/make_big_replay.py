"""A one-year, two-venue minute replay for benchmarks, tiled from the shipped March 2020 file.

The shipped ``replays/btc_2020-03.jsonl.gz`` (config ``configs/binance_bitmex_2020.toml``) holds
23 days of real BitMEX XBTUSD 1 m bars, real Binance BTCUSDT 1 h bars and real funding on both
venues. This script repeats those 23 days with shifted timestamps until a year (365 days from
2020-03-01T00:00Z) is filled:

- BitMEX XBTUSD 1 m bars: the real bars, tile after tile (525,600 a year);
- Binance BTCUSDT 1 m bars: **synthetic** - the BitMEX minute's open/high/low/close times that
  hour's real Binance/BitMEX close ratio (so each hour still closes at the real Binance close and
  the hourly basis is the real one), rounded to the 0.01 tick; volume = the real hourly volume
  / 60 (525,600 a year); no public Binance 1 m history of March 2020 ships with the project;
- funding: the real settlements (both venues, every 8 h) and BitMEX's fixed next rates, tiled
  forward with the bars.

By default every other tile runs backwards in time (``--mirror``, the default: each minute's
bar from the end of the month, open and close swapped), so the price path is continuous at tile
edges instead of jumping from March 23's ~6,000 USD back to March 1's ~8,500 USD; ``--plain``
repeats the month forwards only. Funding always runs forwards. The header's ``created_by`` and
``sources`` say all of this; the dates in the file are not real dates.

The file is written outside the repository's tracked files (default
``/tmp/arbtui_btc_1y.jsonl.gz``); ``--arrow`` also writes the columnar form beside it
(``.arrow``, needs the ``arrow`` extra).

    .venv/bin/python bench/make_big_replay.py [--out PATH] [--days 365] [--plain] [--arrow]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.analysis.replay import load_replay  # noqa: E402
from core.domain.events import (  # noqa: E402
    Bar,
    Event,
    FundingRate,
    FundingSettled,
    ReplayHeader,
    SourceFile,
    encode,
    sort_key,
)

SHIPPED = ROOT / "replays" / "btc_2020-03.jsonl.gz"
DAY_MS = 86_400_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def month_bars(events: list[Event]) -> tuple[list[Bar], list[Bar]]:
    """The real BitMEX 1 m bars of the month and synthetic Binance 1 m bars beside them."""
    bitmex = [e for e in events if isinstance(e, Bar) and e.venue == "bitmex"]
    hourly = {e.open_ts_ms: e for e in events if isinstance(e, Bar) and e.venue == "binance"}
    last_close: dict[int, float] = {}
    for b in bitmex:  # the BitMEX close at the end of each hour
        last_close[b.open_ts_ms - b.open_ts_ms % HOUR_MS] = b.close
    binance = []
    for b in bitmex:
        hour = b.open_ts_ms - b.open_ts_ms % HOUR_MS
        h = hourly.get(hour)
        if h is None:
            continue
        r = h.close / last_close[hour]
        binance.append(
            Bar(
                ts_ms=b.ts_ms,
                venue=h.venue,
                symbol=h.symbol,
                open_ts_ms=b.open_ts_ms,
                interval_ms=MINUTE_MS,
                open=round(b.open * r, 2),
                high=round(b.high * r, 2),
                low=round(b.low * r, 2),
                close=round(b.close * r, 2),
                volume=None if h.volume is None else round(h.volume / 60, 3),
            )
        )
    return bitmex, binance


def _reversed(bars: list[Bar], start_ms: int) -> list[Bar]:
    """The month's bars backwards in time from ``start_ms`` (open and close swapped)."""
    out = []
    for i, b in enumerate(reversed(bars)):
        open_ts = start_ms + i * MINUTE_MS
        out.append(
            Bar(
                ts_ms=open_ts + MINUTE_MS - 1,
                venue=b.venue,
                symbol=b.symbol,
                open_ts_ms=open_ts,
                interval_ms=MINUTE_MS,
                open=b.close,
                high=b.high,
                low=b.low,
                close=b.open,
                volume=b.volume,
            )
        )
    return out


def _shifted(ev: Event, shift_ms: int) -> Event:
    if isinstance(ev, Bar):
        return Bar(
            ts_ms=ev.ts_ms + shift_ms,
            venue=ev.venue,
            symbol=ev.symbol,
            open_ts_ms=ev.open_ts_ms + shift_ms,
            interval_ms=ev.interval_ms,
            open=ev.open,
            high=ev.high,
            low=ev.low,
            close=ev.close,
            volume=ev.volume,
        )
    if isinstance(ev, FundingSettled):
        return FundingSettled(
            ts_ms=ev.ts_ms + shift_ms,
            venue=ev.venue,
            symbol=ev.symbol,
            rate=ev.rate,
            interval_ms=ev.interval_ms,
            mark_price=ev.mark_price,
            raw_ts=str(int(ev.raw_ts) + shift_ms) if ev.raw_ts.isdigit() else ev.raw_ts,
            raw_rate=ev.raw_rate,
        )
    if isinstance(ev, FundingRate):
        return FundingRate(
            ts_ms=ev.ts_ms + shift_ms,
            venue=ev.venue,
            symbol=ev.symbol,
            rate=ev.rate,
            settlement_ts_ms=ev.settlement_ts_ms + shift_ms,
            interval_ms=ev.interval_ms,
            fixed=ev.fixed,
        )
    raise TypeError(f"no tiling for {type(ev).__name__}")


def tiles(
    events: list[Event], start_ms: int, end_ms: int, *, mirror: bool
) -> Iterator[list[Event]]:
    """The year, one tile (23 days) at a time, each in replay order."""
    bitmex, binance = month_bars(events)
    funding = [e for e in events if not isinstance(e, Bar)]
    span_ms = len(bitmex) * MINUTE_MS
    k = 0
    while start_ms + k * span_ms < end_ms:
        shift = k * span_ms
        if mirror and k % 2 == 1:
            bars: list[Event] = [
                *_reversed(bitmex, start_ms + shift),
                *_reversed(binance, start_ms + shift),
            ]
        else:
            bars = [_shifted(b, shift) for b in (*bitmex, *binance)]
        tile = [e for e in bars if e.ts_ms < end_ms]
        tile += [f for f in (_shifted(e, shift) for e in funding) if f.ts_ms < end_ms]
        tile.sort(key=sort_key)
        yield tile
        k += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/arbtui_btc_1y.jsonl.gz"))
    ap.add_argument("--days", type=int, default=365)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--mirror", action="store_true", default=True, help="(default)")
    mode.add_argument("--plain", action="store_true", help="forward tiles only")
    ap.add_argument("--arrow", action="store_true", help="also write OUT's .arrow form")
    args = ap.parse_args()
    out: Path = args.out
    try:
        out.resolve().relative_to(ROOT)
        inside = True
    except ValueError:
        inside = False
    if inside:
        ap.error(f"--out {out}: write it outside the repository (e.g. /tmp)")
    t0 = time.perf_counter()
    header, events = load_replay(SHIPPED)
    start_ms = header.start_ts_ms
    end_ms = start_ms + args.days * DAY_MS
    mirror = not args.plain
    count = sum(len(t) for t in tiles(events, start_ms, end_ms, mirror=mirror))
    tiled = (end_ms - start_ms) / (33_120 * MINUTE_MS)
    how = "every other tile backwards in time" if mirror else "forwards only"
    note = (
        f"bench/make_big_replay.py: {args.days} days tiled from {SHIPPED.name} "
        f"({tiled:.2f} copies of its 23 days, timestamps shifted, {how}; BitMEX 1 m bars real, "
        "Binance 1 m bars synthetic: BitMEX minute x the hour's real Binance/BitMEX close "
        "ratio; real funding tiled forwards). Not real dates: for benchmarks only."
    )
    big = ReplayHeader(
        instruments=header.instruments,
        start_ts_ms=start_ms,
        end_ts_ms=end_ms,
        events=count,
        sources=[
            SourceFile(
                file=f"replays/{SHIPPED.name} (tiled)",
                layout="tiled",
                venue=s.venue,
                symbol=s.symbol,
                rows=s.rows,
                events=s.events,
            )
            for s in header.sources
        ],
        created_by=note,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    per_kind: dict[str, int] = {}
    gzipped = out.name.endswith(".gz")
    with tmp.open("wb") as raw:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if gzipped else None
        sink = gz or raw
        sink.write(encode(big) + b"\n")
        for tile in tiles(events, start_ms, end_ms, mirror=mirror):
            sink.write(b"\n".join(encode(e) for e in tile) + b"\n")
            for e in tile:
                kind = f"{type(e).__struct_config__.tag} {e.venue}"
                per_kind[kind] = per_kind.get(kind, 0) + 1
        if gz is not None:
            gz.close()
    tmp.replace(out)
    print(note)
    print(f"wrote {count:,} events to {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    for kind, n in sorted(per_kind.items()):
        print(f"  {kind:<22} {n:>9,}")
    if args.arrow:
        from core.analysis.replay import convert_replay

        arrow = convert_replay(out, out.with_name(out.name.split(".")[0] + ".arrow"))
        print(f"wrote {arrow} ({arrow.stat().st_size / 2**20:.1f} MiB, columnar)")
    print(f"took {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
