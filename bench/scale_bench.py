"""Scale figures of issue 15: replay speed on a month and a year, memory, optimisation rate.

Needs the one-year file of ``bench/make_big_replay.py`` (default ``/tmp/arbtui_btc_1y.jsonl.gz``)
and the ``bt`` extra (backtesting.py 0.6.6). Runs are interleaved (ours, theirs, ours, ...) and
the best of each is quoted, so that load on a shared machine hits both sides alike.

    .venv/bin/python bench/scale_bench.py replay [--big PATH] [--runs N]
        engine-only (events decoded first) and end-to-end (decode included, JSON lines and the
        columnar form) events/s of the full two-leg engine through the one drive loop, on the
        shipped file and on the one-year file, beside backtesting.py's ``Backtest.run`` bars/s
        (EMA 10/30 cross) on the BitMEX 1 m bars of the same file, and the ratios; and a
        bare Python loop over the same decoded events (the floor of any per-event engine);
    .venv/bin/python bench/scale_bench.py optimize [--points N] [--runs N]
        trials per minute on the shipped file: serial, the local pool (2 workers), and
        backtesting.py's ``Backtest.optimize`` over a grid of the same size on the same bars;
    .venv/bin/python bench/scale_bench.py memory [--big PATH] [--points N]
        the peak memory of an optimisation of the one-year file with 1 and with 2 workers:
        the largest single process's RSS, and the whole process tree's PSS (shared pages
        split between the processes that map them), sampled every 50 ms.

    .venv/bin/python bench/scale_bench.py bt-file FILE
        backtesting.py end to end on FILE's BitMEX bars (decode, frame, ``Backtest.run``) in a
        process of its own, to time beside ``arbtui --replay FILE --headless``.

Peak RSS of a headless replay is a whole-process figure: time
``arbtui --config configs/binance_bitmex_2020.toml --replay FILE --headless`` with
``/usr/bin/time -v`` (maximum resident set size) on each file.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.bt_side import EmaCross, bt_frame  # noqa: E402
from core.analysis.backtest.executors import LocalPool  # noqa: E402
from core.analysis.backtest.optimize import run_search  # noqa: E402
from core.analysis.backtest.runner import run_events  # noqa: E402
from core.analysis.backtest.search import run_points  # noqa: E402
from core.analysis.replay import convert_replay, iter_replay, load_replay  # noqa: E402
from core.domain.config import load_config  # noqa: E402
from core.domain.events import Bar  # noqa: E402

SHIPPED = ROOT / "replays" / "btc_2020-03.jsonl.gz"
SETTINGS = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")


def ema_cross() -> type:
    return EmaCross


def best_of(runs: int, fns: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Each function ``runs`` times, interleaved; the fastest wall seconds of each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def replay(args: argparse.Namespace) -> None:
    from backtesting import Backtest

    warnings.simplefilter("ignore")
    strategy = ema_cross()
    for path in (SHIPPED, Path(args.big)):
        arrow = Path("/tmp") / (path.name.split(".")[0] + ".arrow")
        if not arrow.exists():
            convert_replay(path, arrow)
        header, events = load_replay(path)
        df = bt_frame(events)

        def engine_only(events: list[Any] = events, header: Any = header) -> None:
            run_events(SETTINGS, events, header=header)

        def e2e(p: Path = path) -> None:
            h, it = iter_replay(p)
            run_events(SETTINGS, it, header=h)

        def e2e_arrow(p: Path = arrow) -> None:
            h, it = iter_replay(p)
            run_events(SETTINGS, it, header=h)

        def bt_run(df: Any = df) -> None:
            Backtest(df, strategy, cash=10_000_000, commission=0.00075).run()

        def bare(events: list[Any] = events) -> None:
            """The floor: a Python loop over the same decoded events keeping each venue's
            last close (what any per-event engine in Python pays before doing anything)."""
            last: dict[str, float] = {}
            for ev in events:
                if type(ev) is Bar:
                    last[ev.venue] = ev.close

        best = best_of(
            args.runs,
            {
                "engine": engine_only,
                "e2e": e2e,
                "e2e_arrow": e2e_arrow,
                "bt": bt_run,
                "bare": bare,
            },
        )
        n, bars = len(events), len(df)
        bt_rate = bars / best["bt"]
        minutes = (header.end_ts_ms - header.start_ts_ms) / 60_000
        print(f"{path.name}: {n:,} events ({bars:,} BitMEX 1 m bars, {minutes:,.0f} minutes)")
        for k, label in (
            ("engine", "engine only (decoded)"),
            ("e2e", "end to end, JSON lines"),
            ("e2e_arrow", "end to end, columnar"),
        ):
            rate = n / best[k]
            print(
                f"  {label:<24} {rate:>10,.0f} events/s  {best[k]:6.2f} s  "
                f"{rate / bt_rate:5.2f}x backtesting.py; per minute of history "
                f"{(minutes / best[k]) / (bars / best['bt']):5.2f}x"
            )
        print(f"  {'backtesting.py run':<24} {bt_rate:>10,.0f} bars/s    {best['bt']:6.2f} s")
        bare_rate = n / best["bare"]
        print(
            f"  {'bare Python loop':<24} {bare_rate:>10,.0f} events/s  {best['bare']:6.2f} s  "
            f"(the engine only: {bare_rate / (n / best['engine']):.0f}x slower)"
        )
        del events, df


def optimize(args: argparse.Namespace) -> None:
    from backtesting import Backtest

    warnings.simplefilter("ignore")
    points = [{"strategy.entry_edge_pct": round(0.2 + 0.1 * i, 2)} for i in range(args.points)]
    _, events = load_replay(SHIPPED)
    df = bt_frame(events)
    strategy = ema_cross()
    side = max(2, int(args.points**0.5))
    n1 = list(range(5, 5 + side))
    n2 = list(range(30, 30 + (args.points + side - 1) // side))

    def bt_opt() -> None:
        Backtest(df, strategy, cash=10_000_000, commission=0.00075).optimize(
            n1=n1, n2=n2, maximize="Equity Final [$]", max_tries=args.points, random_state=0
        )

    best = best_of(
        args.runs,
        {
            "serial": lambda: run_search(SHIPPED, SETTINGS, points, workers=1),
            "pool": lambda: run_search(SHIPPED, SETTINGS, points, workers=2),
            "bt": bt_opt,
        },
    )
    rate = {k: args.points / v * 60 for k, v in best.items()}
    print(f"optimisation on {SHIPPED.name}, {args.points} trials a run (start-up included)")
    print(f"  serial (this process)     {rate['serial']:>8,.0f} trials/min")
    print(
        f"  local pool, 2 workers     {rate['pool']:>8,.0f} trials/min  "
        f"{rate['pool'] / rate['serial']:.2f}x serial, {rate['pool'] / rate['bt']:.2f}x bt"
    )
    print(
        f"  backtesting.py optimize   {rate['bt']:>8,.0f} trials/min  "
        f"({len(n1)}x{len(n2)} EMA grid, {args.points} tries, {len(df):,} bars)"
    )


def _tree(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) KiB of one process from smaps_rollup; (0, 0) once it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def memory(args: argparse.Namespace) -> None:
    big = Path(args.big)
    arrow = Path("/tmp") / (big.name.split(".")[0] + ".arrow")
    if not arrow.exists():
        convert_replay(big, arrow)
    points = [{"strategy.entry_edge_pct": round(0.4 + 0.2 * i, 2)} for i in range(args.points)]
    print(f"optimisation of {args.points} trials on the one-year file: peak memory")
    for path in (big, arrow):
        for workers in (1, 2):
            peak = {"rss": 0, "pss": 0}
            stop = threading.Event()

            def sample(peak: dict[str, int] = peak, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    figures = [_mem_kib(p) for p in _tree(os.getpid())]
                    peak["rss"] = max(peak["rss"], max(r for r, _ in figures))
                    peak["pss"] = max(peak["pss"], sum(p for _, p in figures))
                    time.sleep(0.05)

            th = threading.Thread(target=sample, daemon=True)
            th.start()
            t0 = time.perf_counter()
            pool = LocalPool(path, SETTINGS, workers)  # a spawned pool, of one or of two
            try:
                trials = run_points(pool, points)
            finally:
                pool.close()
            wall = time.perf_counter() - t0
            stop.set()
            th.join()
            bad = sum(1 for t in trials if t.error)
            print(
                f"  {path.name:<24} {workers} worker(s): largest process RSS "
                f"{peak['rss'] / 1024:6.0f} MiB, whole tree PSS {peak['pss'] / 1024:6.0f} MiB "
                f"({wall:.0f} s, {bad} failed)"
            )


def bt_file(args: argparse.Namespace) -> None:
    """backtesting.py end to end on one file (decode, frame, ``Backtest.run``): a whole
    process to time beside ``arbtui --replay FILE --headless``."""
    from backtesting import Backtest

    warnings.simplefilter("ignore")
    _, events = load_replay(args.file)
    df = bt_frame(events)
    del events
    stats = Backtest(df, ema_cross(), cash=10_000_000, commission=0.00075).run()
    print(f"{len(df):,} bars, {int(stats['# Trades'])} trades")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("replay", "optimize", "memory", "bt-file"))
    ap.add_argument("file", nargs="?", default=str(SHIPPED), help="bt-file: the replay")
    ap.add_argument("--big", default="/tmp/arbtui_btc_1y.jsonl.gz")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--points", type=int, default=16)
    args = ap.parse_args()
    {"replay": replay, "optimize": optimize, "memory": memory, "bt-file": bt_file}[args.what](args)


if __name__ == "__main__":
    main()
