"""Scale figures of issue 15: replay speed on a month and a year, memory, optimisation rate.

Needs the one-year file of ``bench/make_big_replay.py`` (default ``/tmp/arbtui_btc_1y.jsonl.gz``)
and the ``bt`` extra (backtesting.py 0.6.6). Runs are interleaved (ours, theirs, ours, ...) and
the best of each is quoted, so that load on a shared machine hits both sides alike.

    .venv/bin/python bench/scale_bench.py replay [--big PATH] [--runs N]
        engine-only (events decoded first) and end-to-end (decode included, JSON lines and the
        columnar form) events/s of the full two-leg engine through the one drive loop, on the
        shipped file and on the one-year file, beside backtesting.py's ``Backtest.run`` bars/s
        (EMA 10/30 cross) on the BitMEX 1 m bars of the same file, the ratios and issue 15's
        targets (engine only >= 5x, end to end >= 3x: met or not); a bare Python loop over
        the same decoded events (the floor of any per-event engine); the trades the engine
        made and when the last was (the drawdown limit is lifted: see :data:`SETTINGS`); the
        garbage collector's seconds in one more end-to-end run; the one-year file's events/s
        over the shipped file's (>= 1: no slower per event); and the load average, to quote
        beside them.
        ``--runs 3`` took 56 s at load average 2 on 2 cores, ``--runs 2`` 98 s at load 4;
    .venv/bin/python bench/scale_bench.py optimize [--points N] [--runs N] [--workers N]
                                                   [--start-method fork|forkserver|spawn]
        trials per minute on the shipped file: serial, the local pool (2 workers), and
        backtesting.py's ``Backtest.optimize`` over a grid of the same size on the same bars;
        and where the time goes: start-up (the replay's header and decode, the workers' start:
        each worker's wall and CPU seconds until it was ready) against per-trial (wall and CPU
        seconds a trial, in this process and in a worker), the parent's CPU while the pool
        runs, and what those CPU figures give on an idle machine (start-up + the trials split
        over the workers), which a loaded machine's wall clock cannot show;
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
import gc
import math
import os
import resource
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# backtesting.py's side imports numpy (OpenBLAS starts its threads) and pandas (pyarrow's jemalloc
# starts a background thread). `arbtui optimize` imports neither, so its process runs one thread
# and the local pool forks (core/analysis/backtest/executors.py); keep this process so too, or
# the pool measured here would be the forkserver one. backtesting.py's arithmetic here is
# elementwise (no BLAS). TQDM_DISABLE: no progress bars from backtesting.py over the figures.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
os.environ.setdefault("TQDM_DISABLE", "1")

from bench.bt_side import EmaCross, bt_frame  # noqa: E402
from core.analysis.backtest.executors import LocalPool, Serial, threads_running  # noqa: E402
from core.analysis.backtest.runner import run_events  # noqa: E402
from core.analysis.backtest.search import run_points  # noqa: E402
from core.analysis.replay import convert_replay, iter_replay, load_replay  # noqa: E402
from core.domain.config import load_config  # noqa: E402
from core.domain.events import Bar  # noqa: E402
from core.domain.timeutil import ms_to_iso  # noqa: E402

SHIPPED = ROOT / "replays" / "btc_2020-03.jsonl.gz"
#: The shipped month's config with the drawdown limit lifted to 99 %, so that the engine trades
#: the whole year: at the config's 10 % the year's tiled price path (the March 2020 crash, again
#: and again) halts it on 2020-04-17 after 155 trades, and the other ten and a half months run
#: flat, which flattered the year's events/s by about a quarter. The month never reaches 10 %
#: (7.1 % at most): its run is the same either way.
CONFIG = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")
SETTINGS = msgspec.structs.replace(
    CONFIG, risk=msgspec.structs.replace(CONFIG.risk, drawdown_limit_pct=99.0)
)


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


class GcClock:
    """Wall seconds spent in the garbage collector, and its collections, while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.collections += 1

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


#: Issue 15's targets against backtesting.py's bars/s: engine only, end to end.
TARGET_ENGINE, TARGET_E2E = 5.0, 3.0


def replay(args: argparse.Namespace) -> None:
    from backtesting import Backtest

    warnings.simplefilter("ignore")
    strategy = ema_cross()
    print(
        f"replay speed, best of {args.runs} interleaved runs; load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    per_file: dict[str, dict[str, float]] = {}
    for path in (SHIPPED, Path(args.big)):
        arrow = Path("/tmp") / (path.name.split(".")[0] + ".arrow")
        if not arrow.exists():
            convert_replay(path, arrow)
        header, events = load_replay(path)
        df = bt_frame(events)

        def engine_only(events: list[Any] = events, header: Any = header) -> None:
            run_events(SETTINGS, events, header=header)

        def e2e(p: Path = path) -> Any:
            h, it = iter_replay(p)
            return run_events(SETTINGS, it, header=h)

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
        with GcClock() as gc_clock:  # one more end-to-end run, its collector's share
            t0 = time.perf_counter()
            trades = e2e().report["trades"]
            gc_run = time.perf_counter() - t0
        n, bars = len(events), len(df)
        bt_rate = bars / best["bt"]
        minutes = (header.end_ts_ms - header.start_ts_ms) / 60_000
        print(
            f"{path.name}: {n:,} events ({bars:,} BitMEX 1 m bars, {minutes:,.0f} minutes); "
            f"the engine made {len(trades)} trades, the last at "
            f"{ms_to_iso(trades[-1]['ts_ms']) if trades else '-'}"
        )
        rates = per_file[path.name] = {}
        for k, label, target in (
            ("engine", "engine only (decoded)", TARGET_ENGINE),
            ("e2e", "end to end, JSON lines", TARGET_E2E),
            ("e2e_arrow", "end to end, columnar", TARGET_E2E),
        ):
            rate = rates[k] = n / best[k]
            ratio = rate / bt_rate
            print(
                f"  {label:<24} {rate:>10,.0f} events/s  {best[k]:6.2f} s  "
                f"{ratio:5.2f}x backtesting.py (target {target:g}x: "
                f"{'met' if ratio >= target else 'not met'}); per minute of history "
                f"{(minutes / best[k]) / (bars / best['bt']):5.2f}x"
            )
        print(f"  {'backtesting.py run':<24} {bt_rate:>10,.0f} bars/s    {best['bt']:6.2f} s")
        bare_rate = n / best["bare"]
        print(
            f"  {'bare Python loop':<24} {bare_rate:>10,.0f} events/s  {best['bare']:6.2f} s  "
            f"(the engine only: {bare_rate / (n / best['engine']):.0f}x slower)"
        )
        print(
            f"  {'garbage collector':<24} {gc_clock.seconds:10.3f} s of one end-to-end run of "
            f"{gc_run:.2f} s ({gc_clock.collections} collections)"
        )
        del events, df
    month, year = (per_file[p] for p in (SHIPPED.name, Path(args.big).name))
    print("the one-year file per event against the shipped one (>= 1.00: no slower)")
    for k, label in (
        ("engine", "engine only"),
        ("e2e", "end to end, JSON lines"),
        ("e2e_arrow", "end to end, columnar"),
    ):
        print(f"  {label:<24} {year[k] / month[k]:5.2f}x")


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def _serial_run(points: list[dict[str, Any]]) -> dict[str, float]:
    """A serial search, end to end: start-up (header and decode) and the trials."""
    c0, t0 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    ex = Serial(SHIPPED, SETTINGS)  # reads the header, decodes the month
    c1, t1 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    try:
        trials = run_points(ex, points)
    finally:
        ex.close()
    c2, t2 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    assert not any(t.error for t in trials), [t.error for t in trials if t.error]
    n = len(trials)
    return {
        "wall": t2 - t0,
        "start_wall": t1 - t0,
        "start_cpu": c1 - c0,
        "trial_wall": sum(t.wall_s for t in trials) / n,
        "trial_cpu": (c2 - c1) / n,
    }


def _pool_run(points: list[dict[str, Any]], workers: int, method: str | None) -> dict[str, Any]:
    """A local-pool search, end to end: the pool made (header, decode, workers started), the
    trials streamed back, the pool closed (workers joined, so their CPU is counted)."""
    s0, k0, t0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    pool = LocalPool(SHIPPED, SETTINGS, workers, method)
    s1, t1 = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    try:
        trials = run_points(pool, points)
        ready = pool.startup()  # each worker's (s from the pool's creation to ready, CPU s)
    finally:
        pool.close()
    s2, k2, t2 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    assert not any(t.error for t in trials), [t.error for t in trials if t.error]
    n = len(trials)
    kids = k2 - k0  # 0 when the workers are the fork server's children, not ours
    return {
        "wall": t2 - t0,
        "method": pool.start_method,
        "create_wall": t1 - t0,
        "create_cpu": s1 - s0,
        "ready": ready,
        "parent_cpu": s2 - s1,
        "trial_wall": sum(t.wall_s for t in trials) / n,
        "trial_cpu": (kids - sum(c for _, c in ready)) / n if kids else float("nan"),
    }


def optimize(args: argparse.Namespace) -> None:
    from backtesting import Backtest

    warnings.simplefilter("ignore")
    n, workers = args.points, args.workers
    points = [{"strategy.entry_edge_pct": round(0.2 + 0.1 * i, 2)} for i in range(n)]
    _, events = load_replay(SHIPPED)
    df = bt_frame(events)
    del events
    strategy = ema_cross()
    side = max(2, int(n**0.5))
    n1 = list(range(5, 5 + side))
    n2 = list(range(30, 30 + (n + side - 1) // side))
    if threads_running() != 1:
        print(f"note: this process runs {threads_running()} threads: the pool will not fork")

    def bt_opt() -> dict[str, float]:
        c0, k0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        Backtest(df, strategy, cash=10_000_000, commission=0.00075).optimize(
            n1=n1, n2=n2, maximize="Equity Final [$]", max_tries=n, random_state=0
        )
        return {
            "wall": time.perf_counter() - t0,
            "parent_cpu": _cpu(resource.RUSAGE_SELF) - c0,
            "kids_cpu": _cpu(resource.RUSAGE_CHILDREN) - k0,
        }

    runs: dict[str, list[dict[str, Any]]] = {"serial": [], "pool": [], "bt": []}
    for _ in range(args.runs):  # interleaved; the fastest run of each is quoted
        runs["serial"].append(_serial_run(points))
        runs["pool"].append(_pool_run(points, workers, args.start_method))
        runs["bt"].append(bt_opt())
    se, po, bt = (min(runs[k], key=lambda r: r["wall"]) for k in ("serial", "pool", "bt"))
    rate = {k: n / r["wall"] * 60 for k, r in (("serial", se), ("pool", po), ("bt", bt))}
    print(
        f"optimisation on {SHIPPED.name}, {n} trials a run (start-up included), best of "
        f"{args.runs}; load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"  serial (this process)     {rate['serial']:>8,.0f} trials/min")
    print(
        f"  local pool, {workers} workers     {rate['pool']:>8,.0f} trials/min  "
        f"{rate['pool'] / rate['serial']:.2f}x serial, {rate['pool'] / rate['bt']:.2f}x bt"
    )
    print(
        f"  backtesting.py optimize   {rate['bt']:>8,.0f} trials/min  "
        f"({len(n1)}x{len(n2)} EMA grid, {n} tries, {len(df):,} bars)"
    )
    print("where the time goes (wall s; CPU s in brackets)")
    print(
        f"  serial  start-up {se['start_wall']:.3f} ({se['start_cpu']:.3f}) header + decode; "
        f"a trial {se['trial_wall']:.3f} ({se['trial_cpu']:.3f}); total {se['wall']:.2f}"
    )
    ready = ", ".join(f"{w:.3f} ({c:.3f})" for w, c in po["ready"])
    print(
        f"  pool    {po['method']}: made in {po['create_wall']:.3f} ({po['create_cpu']:.3f}) "
        f"header + decode + start; workers ready at {ready}"
    )
    print(
        f"          a trial in a worker {po['trial_wall']:.3f} ({po['trial_cpu']:.3f}); "
        f"the parent's CPU while the trials ran {po['parent_cpu']:.3f} "
        f"({po['parent_cpu'] / n * 1000:.1f} ms a trial); total {po['wall']:.2f}"
    )
    print(
        f"  bt      total {bt['wall']:.2f}; CPU: parent {bt['parent_cpu']:.2f}, "
        f"its pool's workers {bt['kids_cpu']:.2f}"
    )
    # On an idle machine: each side's start-up, then its trials at their CPU cost, split
    # evenly over the workers (the pool's trials go one at a time, so the split is even to
    # within one trial).
    serial_idle = se["start_cpu"] + n * se["trial_cpu"]
    trial_cpu = po["trial_cpu"] if po["trial_cpu"] == po["trial_cpu"] else se["trial_cpu"]
    start = po["create_cpu"] + max(c for _, c in po["ready"])
    if po["method"] != "fork":  # the fork server's own start-up shows in the wall clock only
        start = max(start, max(w for w, _ in po["ready"]))
    pool_idle = start + math.ceil(n / workers) * trial_cpu
    bt_idle = bt["parent_cpu"] + bt["kids_cpu"] / workers
    print(
        f"  idle-machine estimate from CPU s: serial {serial_idle:.2f} s, pool {pool_idle:.2f} s "
        f"= {serial_idle / pool_idle:.2f}x serial, {bt_idle / pool_idle:.2f}x bt "
        f"(bt {bt_idle:.2f} s: parent + workers / {workers})"
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

            t0 = time.perf_counter()
            # the pool first: its workers start (fork) while this process has one thread
            pool = LocalPool(path, SETTINGS, workers)
            th = threading.Thread(target=sample, daemon=True)
            th.start()
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
                f"({wall:.0f} s, {bad} failed, {pool.start_method})"
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
    ap.add_argument("--points", type=int, default=16, help="trials a run (optimize, memory)")
    ap.add_argument("--workers", type=int, default=2, help="the pool's workers (optimize)")
    ap.add_argument(
        "--start-method", choices=("fork", "forkserver", "spawn"), default=None,
        help="the pool's start (optimize; default: the pool's own choice, fork here)",
    )  # fmt: skip
    args = ap.parse_args()
    {"replay": replay, "optimize": optimize, "memory": memory, "bt-file": bt_file}[args.what](args)


if __name__ == "__main__":
    main()
