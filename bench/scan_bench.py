"""The funding scanner's ranking speed: 500 matched pairs (1,000 perpetuals on two venues) with
7 days of hourly settled history on every leg (168 rows each), refreshed with new quotes.

Per refresh (what ``arbtui scan --watch`` and the scanner screen do once the venues answered):
new :class:`Perp` quotes for every perpetual, :func:`match`, and :func:`rank` with the 1/3/7-day
averages from the cached histories and one venue's open interest from the cache, converted at
the new marks (as Binance's, read per symbol every few minutes:
:class:`core.runtime.open_interest.OpenInterestBook`; its requests are I/O outside this
figure). Separately: building the 1,000 :class:`SettledHistory` objects (done once per
settlement, not per refresh). The data is generated (random rates,
intervals 1/4/8 h, prices, volumes), seeded.

    .venv/bin/python bench/scan_bench.py [--pairs 500] [--days 7] [--refreshes 50]

Target (issue 14): under 50 ms per refresh for 500 pairs with 7 days of hourly history.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.domain.scan import HOUR_MS, ScanSettings, rank  # noqa: E402
from core.domain.universe import OpenInterest, Perp, SettledHistory, match  # noqa: E402
from core.runtime.open_interest import OpenInterestBook  # noqa: E402

NOW = 1_796_000_400_000 // HOUR_MS * HOUR_MS
VENUES = ("venue_a", "venue_b")


def quotes(n: int, rng: random.Random) -> list[Perp]:
    """One perpetual per asset on each venue, with fresh random marks and estimates."""
    out = []
    for i in range(n):
        base = f"A{i:04d}"
        px = 1.0 + i
        for v, venue in enumerate(VENUES):
            hours = (8.0, 4.0, 1.0)[(i + v) % 3]
            out.append(
                Perp(
                    venue=venue, symbol=f"{base}USDT", base=base, quote="USDT", settle="USDT",
                    kind="linear" if (i + v) % 5 else "inverse",
                    mark=px * (1 + rng.uniform(-0.002, 0.002)), index=px,
                    next_rate=rng.uniform(-0.001, 0.002) * hours / 8,
                    next_funding_ms=NOW + int(hours * HOUR_MS), interval_h=hours,
                    cap=0.003, floor=-0.003, taker_fee=0.0005 + 0.00005 * v,
                    volume_24h_usd=rng.uniform(1e5, 1e9),
                    open_interest_usd=None if v == 0 else rng.uniform(1e5, 1e8),
                )
            )  # fmt: skip
    return out


def histories(
    perps: list[Perp], days: int, rng: random.Random
) -> dict[tuple[str, str], SettledHistory]:
    """Hourly settled rows for ``days`` days on every perpetual."""
    rows = days * 24
    return {
        p.key: SettledHistory(
            [(NOW - k * HOUR_MS, rng.uniform(-0.0001, 0.0002)) for k in range(rows)]
        )
        for p in perps
    }


class PerSymbol:
    """venue_a serves open interest per symbol (as Binance); never asked here: cached."""

    venue = VENUES[0]

    async def open_interest(self, symbol: str) -> tuple[float, int | None]:
        raise AssertionError("the bench reads the cache only")


def oi_book(perps: list[Perp], rng: random.Random) -> OpenInterestBook:
    """A book holding a read (contracts, 2 minutes old) for every venue_a perpetual."""
    book = OpenInterestBook({VENUES[0]: PerSymbol()}, clock=lambda: NOW)
    for p in perps:
        if p.venue == VENUES[0]:
            book.figures[p.key] = OpenInterest(rng.uniform(1e3, 1e6), NOW - 120_000)
            book.due_at[p.key] = NOW + 180_000
    return book


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--refreshes", type=int, default=50)
    args = ap.parse_args()
    rng = random.Random(14)
    settings = ScanSettings(horizon_h=72.0, notional_usd=10_000.0)

    perps = quotes(args.pairs, rng)
    t0 = time.perf_counter()
    hist = histories(perps, args.days, rng)
    build_ms = (time.perf_counter() - t0) * 1000

    book = oi_book(perps, rng)
    rank_ms, total_ms, quote_ms = [], [], []
    rows = []
    for _ in range(args.refreshes):
        t0 = time.perf_counter()
        fresh = quotes(args.pairs, rng)
        t1 = time.perf_counter()
        pairs = match(fresh)
        t2 = time.perf_counter()
        rows = rank(pairs, settings, NOW, hist, book.figures)
        t3 = time.perf_counter()
        quote_ms.append((t1 - t0) * 1000)
        rank_ms.append((t3 - t2) * 1000)
        total_ms.append((t3 - t1) * 1000)
    assert len(pairs) == args.pairs and len(rows) == args.pairs
    assert len(book.wanted(pairs)) == args.pairs
    assert all(leg.open_interest_usd is not None for o in rows for leg in (o.short, o.long))
    assert all(o.averages[2] is not None for o in rows) or args.days < 7

    n_hist = sum(len(h) for h in hist.values())
    print(f"scan bench: {args.pairs} matched pairs, {len(perps)} perpetuals, {n_hist:,} "
          f"settled rows ({args.days} d hourly each), {args.refreshes} refreshes")  # fmt: skip
    print(f"  build histories (once per settlement): {build_ms:8.1f} ms")
    print(f"  quotes -> Perp values (per refresh):   median {statistics.median(quote_ms):6.2f} ms")
    print(f"  rank only (per refresh):               median {statistics.median(rank_ms):6.2f} ms"
          f"  p95 {pct(rank_ms, 0.95):6.2f} ms  max {max(rank_ms):6.2f} ms")  # fmt: skip
    print(f"  match + rank (per refresh):            median {statistics.median(total_ms):6.2f} ms"
          f"  p95 {pct(total_ms, 0.95):6.2f} ms  max {max(total_ms):6.2f} ms")  # fmt: skip
    every = [q + t for q, t in zip(quote_ms, total_ms, strict=True)]
    print(f"  quotes + match + rank (per refresh):   median {statistics.median(every):6.2f} ms"
          f"  p95 {pct(every, 0.95):6.2f} ms")  # fmt: skip
    verdict = "met" if pct(total_ms, 0.95) < 50 else "MISSED"
    print(f"  target < 50 ms per refresh (p95 of match + rank): {verdict}")
    best = rows[0]
    print(f"  best row: {best.key} net APR {best.net_apr * 100:.1f} %")


if __name__ == "__main__":
    main()
