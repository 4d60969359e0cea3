"""The console's scanner screen under load: 500 ranked rows, a new scan result every 0.5 s
(2 Hz, every row's figures changed), the screen pulling at its own pace, for ``--seconds``.

The results are computed before the clock starts (in the console they come from the scanner's
own thread: ``bench/scan_bench.py`` measures that cost), so the CPU figure is the screen's:
applying a result by row key (changed cells rewritten), sorting, the detail pane, rendering.
The app runs headless at 200x50. CPU is the process's CPU time over the wall time.

    .venv/bin/python bench/scan_screen_bench.py [--pairs 500] [--seconds 10]

Target (issue 14): 500 rows re-rendered at 2 Hz under 25 % of a core.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.app import App  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from scan_bench import NOW, histories, oi_book, quotes  # noqa: E402

from core.domain.scan import ScanSettings, rank  # noqa: E402
from core.domain.universe import match  # noqa: E402
from core.runtime.scanner import ScanResult  # noqa: E402
from tui.scanner_screen import ScannerScreen  # noqa: E402


class CyclingFeed:
    """Hands out the next precomputed result every ``every_s`` seconds."""

    def __init__(self, results: list[ScanResult], every_s: float) -> None:
        self.results = results
        self.every_s = every_s
        self.error = ""
        self.t0 = time.monotonic()

    def latest(self) -> ScanResult:
        i = int((time.monotonic() - self.t0) / self.every_s)
        return self.results[i % len(self.results)]

    def refresh_now(self) -> None:
        pass


class Bench(App[None]):
    def __init__(self, feed: CyclingFeed, seconds: float) -> None:
        super().__init__()
        self.feed = feed
        self.seconds = seconds
        self.screen_: ScannerScreen | None = None
        self.cpu0 = self.wall0 = 0.0
        self.applied0 = 0

    def on_mount(self) -> None:
        self.screen_ = ScannerScreen(self.feed)
        self.push_screen(self.screen_)
        self.set_timer(2.0, self._start)  # first build of the table is not the steady state

    def _start(self) -> None:
        assert self.screen_ is not None
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()
        self.applied0 = self.screen_.applied
        self.set_timer(self.seconds, self.exit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--results", type=int, default=8, help="distinct results to cycle")
    args = ap.parse_args()
    rng = random.Random(14)
    settings = ScanSettings()
    perps = quotes(args.pairs, rng)
    hist = histories(perps, 7, rng)
    ois = oi_book(perps, rng).figures  # venue_a's open interest, read apart (as Binance's)
    results = []
    for _ in range(args.results):
        rows = rank(match(quotes(args.pairs, rng)), settings, NOW, hist, ois)
        results.append(ScanResult(rows, {}, len(rows), {}, NOW, 0.0, hist))
    app = Bench(CyclingFeed(results, 0.5), args.seconds)
    app.run(headless=True, size=(200, 50))
    cpu, wall = time.process_time() - app.cpu0, time.monotonic() - app.wall0
    assert app.screen_ is not None
    applied = app.screen_.applied - app.applied0
    share = cpu / wall * 100
    print(f"scan screen bench: {args.pairs} rows, a new result every 0.5 s, {wall:.1f} s")
    print(f"  results applied: {applied} ({applied / wall:.2f} per second)")
    print(f"  CPU: {cpu:.2f} s over {wall:.1f} s = {share:.1f} % of a core")
    print(f"  target < 25 % of a core: {'met' if share < 25 else 'MISSED'}")


if __name__ == "__main__":
    main()
