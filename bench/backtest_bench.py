"""Backtest speed: our full two-leg engine against backtesting.py on the same bars, same run.

Prints, best of N interleaved runs (so that load on the machine hits both sides alike):
- engine: replay events per second of the full engine (signal, ladders, hedger, ledger,
  risk) on the shipped replay, events already decoded;
- backtesting.py 0.6.6: bars per second of an EMA-cross strategy (10/30 on Close) on the
  BitMEX 1 m bars of the same replay, ``Backtest.run`` end to end, and the ratio;
- the carry strategy on the carry frame in backtesting.py, rows per second (for scale);
- optimisation: runs per minute of ``arbtui optimize`` (spawned workers, one per core).

    .venv/bin/python bench/backtest_bench.py [REPLAY] [--runs N] [--points N]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bt_side import EmaCross, bt_frame  # noqa: E402
from core.analysis.backtest.optimize import default_workers, run_search  # noqa: E402
from core.analysis.replay import load_replay  # noqa: E402
from core.domain.config import load_config  # noqa: E402
from core.engine.engine import Engine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("replay", nargs="?", default=str(ROOT / "replays" / "btc_2020-03.jsonl.gz"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--points", type=int, default=12, help="optimisation points")
    args = ap.parse_args()
    settings = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")
    _, events = load_replay(args.replay)

    from backtesting import Backtest

    from core.analysis.backtest.bt_strategy import carry_backtest, strategy_params
    from core.analysis.backtest.frames import carry_frame

    df = bt_frame(events)

    def engine_run() -> None:
        eng = Engine(settings)
        on = eng.on_event
        for ev in events:
            on(ev)

    def bt_run() -> int:
        st = Backtest(df, EmaCross, cash=10_000_000, commission=0.00075).run()
        return int(st["# Trades"])

    carry = carry_frame(events, settings)
    params = strategy_params(settings)

    def carry_run() -> None:
        carry_backtest(carry, cash=100_000).run(**params)

    warnings.simplefilter("ignore")
    t_eng: list[float] = []
    t_bt: list[float] = []
    t_carry: list[float] = []
    trades = 0
    for _ in range(args.runs):  # interleaved
        t0 = time.perf_counter()
        engine_run()
        t_eng.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        trades = bt_run()
        t_bt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        carry_run()
        t_carry.append(time.perf_counter() - t0)
    eng_rate = len(events) / min(t_eng)
    bt_rate = len(df) / min(t_bt)
    print(f"replay             {args.replay}: {len(events):,} events, {len(df):,} BitMEX 1 m bars")
    print(f"engine (full)      {eng_rate:>10,.0f} events/s  ({min(t_eng) * 1000:.0f} ms a run)")
    print(
        f"backtesting.py     {bt_rate:>10,.0f} bars/s    ({min(t_bt) * 1000:.0f} ms a run, "
        f"EMA 10/30 cross, {trades} trades)"
    )
    print(f"ratio              {eng_rate / bt_rate:>10.2f} x  (target >= 2)")
    print(
        f"carry strategy bt  {len(carry) / min(t_carry):>10,.0f} rows/s    "
        f"({min(t_carry) * 1000:.0f} ms a run, {len(carry):,} rows)"
    )

    points = [{"strategy.entry_edge_pct": 0.2 + 0.1 * i} for i in range(args.points)]
    workers = default_workers()
    t0 = time.perf_counter()
    trials = run_search(args.replay, settings, points, workers=workers)
    wall = time.perf_counter() - t0
    bad = sum(1 for t in trials if t.error)
    per_run = sum(t.wall_s for t in trials) / len(trials)
    print(
        f"optimize           {len(trials) / wall * 60:>10,.0f} runs/min  ({len(trials)} runs, "
        f"{workers} spawned workers, {wall:.1f} s with start-up; {per_run * 1000:.0f} ms a run "
        f"in a worker; {bad} failed)"
    )


if __name__ == "__main__":
    main()
