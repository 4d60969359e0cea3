"""``arbtui optimize FILE --grid KEY=START:STOP:STEP ... [options]``.

Runs one backtest per point of the grid (or ``--random N`` points of it) in worker processes,
shows a progress bar on stderr (``rich.progress``), prints the best runs as a table
(``rich.table``), writes every run to a CSV
sorted by the objective, and with ``--write-best PATH`` writes the full config with the best
point's keys changed. Exit codes: 0 fine (also when no run satisfied the constraints: the
table says so); 2 bad input (key, value, grid, constraint, objective, replay file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from core.domain.config import ConfigError, Settings
from tui.commands.text import render

if TYPE_CHECKING:  # imported when the search runs, not when the command line is built
    from core.analysis.backtest.optimize import Trial

SHOWN_METRICS = ("total_pnl_usd", "return_pct", "sharpe", "max_drawdown_pct", "round_trips")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the optimize arguments to ``parser``."""
    parser.add_argument("replay", type=Path, metavar="FILE", help="replay file (.jsonl or .gz)")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        required=True,
        metavar="KEY=SPEC",
        help="a numeric config key and its values: START:STOP:STEP (both ends included) or "
        "V1,V2,...; e.g. --grid strategy.entry_edge_pct=0.4:1.0:0.2 (repeatable)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="fixed override"
    )
    parser.add_argument("--random", type=int, metavar="N", help="run N random grid points")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    parser.add_argument(
        "--objective", default="sharpe", help="metric to rank by (default sharpe; e.g. "
        "total_pnl, return_pct, sortino, max_drawdown_pct, win_rate_pct)"
    )  # fmt: skip
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--minimize", action="store_true", help="lower objective is better")
    direction.add_argument("--maximize", action="store_true", help="higher objective is better")
    parser.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep only runs where METRIC OP NUMBER holds, e.g. 'max_drawdown_pct<5'",
    )
    parser.add_argument("--workers", type=int, help="worker processes (default one per core)")
    parser.add_argument(
        "--out", type=Path, default=Path("backtest-results"), metavar="DIR",
        help="folder for the CSV (default ./backtest-results)",
    )  # fmt: skip
    parser.add_argument("--csv", type=Path, metavar="PATH", help="CSV path (overrides --out)")
    parser.add_argument("--top", type=int, default=10, help="rows shown (default 10)")
    parser.add_argument(
        "--write-best", type=Path, metavar="PATH", help="write the best point as a config file"
    )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """``arbtui optimize``."""
    from core.analysis.backtest.optimize import (
        Constraint,
        default_workers,
        plan,
        rank,
        run_search,
        write_csv,
    )
    from core.analysis.backtest.overrides import (
        grid_size,
        parse_assignment,
        parse_grid,
        with_overrides,
        write_config,
    )
    from core.analysis.backtest.stats import LOWER_IS_BETTER, metric_name, metric_names
    from core.analysis.replay import iter_replay

    try:
        base = with_overrides(settings, dict(parse_assignment(s) for s in args.set))
        grid = [parse_grid(g, base) for g in args.grid]
        keys = [k for k, _ in grid]
        if len(set(keys)) != len(keys):
            raise ConfigError("--grid: a key is given twice")
        objective = metric_name(args.objective, base)
        constraints = [Constraint.parse(c) for c in args.constraint]
        for c in constraints:
            metric_name(c.metric, base)
        if args.workers is not None and args.workers < 1:
            raise ValueError("--workers needs N >= 1")
        points = plan(grid, args.random, args.seed)
    except (ConfigError, ValueError) as exc:
        print(f"arbtui optimize: {exc}", file=sys.stderr)
        return 2
    header, events = iter_replay(args.replay)  # a missing or bad file fails here, not in the pool
    next(iter(events), None)
    del header, events
    minimize = args.minimize or (not args.maximize and objective in LOWER_IS_BETTER)
    workers = min(args.workers or default_workers(), len(points))
    print(
        f"optimize          {args.replay}: {len(points)} of {grid_size(grid)} grid points, "
        f"{workers} worker(s), objective {objective} ({'min' if minimize else 'max'}imised)"
        + (f", constraints {', '.join(map(str, constraints))}" if constraints else "")
    )
    best: list[float] = []
    with progress_bar() as progress:
        task = progress.add_task("optimize", total=len(points), note="")

        def on_done(t: Trial, done: int, total: int) -> None:
            v = (t.metrics or {}).get(objective)
            if v is not None and all(c.holds(t.metrics or {}) for c in constraints):
                best.append(float(v))
            note = f"best {objective} {(min if minimize else max)(best):.4g}" if best else ""
            progress.update(task, completed=done, note=note)

        t0 = time.perf_counter()
        trials = run_search(args.replay, base, points, workers=workers, on_done=on_done)
        wall = time.perf_counter() - t0
    ranked = rank(trials, objective, minimize=minimize, constraints=constraints)
    metrics = metric_names(base)
    csv_path = args.csv or args.out / f"{args.replay.name.split('.')[0]}_optimize.csv"
    write_csv(csv_path, ranked, keys, metrics)
    print(
        f"runs              {len(trials)} in {wall:.1f} s ({len(trials) / wall * 60:,.0f} runs/min)"
    )
    print(render(format_table(ranked[: args.top], keys, objective)))
    failed = [t for t in trials if t.error]
    if failed:
        print(f"failed runs       {len(failed)} (first: {failed[0].params}: {failed[0].error})")
    winner = ranked[0] if ranked and ranked[0].ok else None
    if winner is None:
        print("best              none: no run satisfied every constraint")
    else:
        shown = ", ".join(f"{k}={v}" for k, v in winner.params.items())
        print(f"best              {shown}  ({objective} {_cell(winner.metrics, objective)})")
    print(f"wrote             {csv_path}")
    if args.write_best and winner is not None:
        overrides = {**dict(parse_assignment(s) for s in args.set), **winner.params}
        path = write_config(args.write_best, settings, overrides)
        print(f"wrote             {path} (the full config with the best point)")
    return 0


def _cell(metrics: dict[str, Any] | None, key: str) -> str:
    v = (metrics or {}).get(key)
    if v is None:
        return "n/a"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"


def progress_bar() -> Progress:
    """The search's progress bar on stderr: redrawn in place on a terminal, drawn once at the
    end otherwise."""
    return Progress(
        TextColumn("optimize [", markup=False),
        BarColumn(bar_width=30),
        TextColumn("]", markup=False),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", markup=False),
        console=Console(file=sys.stderr),
    )


def format_table(trials: list[Trial], keys: list[str], objective: str) -> Table:
    """The ranked runs as a table (parameters, objective, headline metrics)."""
    cols = [objective, *(m for m in SHOWN_METRICS if m != objective)]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for head in ["#", *(k.split(".")[-1] for k in keys), *cols]:
        table.add_column(head, justify="right")
    table.add_column("ok")
    for r, t in enumerate(trials, 1):
        status = "yes" if t.ok else ("error" if t.error else "no: " + ";".join(t.violated))
        table.add_row(
            str(r),
            *(str(t.params[k]) for k in keys),
            *(_cell(t.metrics, c) for c in cols),
            status,
        )
    return table
