"""``arbtui optimize FILE --grid KEY=START:STOP:STEP ... [options]``.

Runs one backtest per point of the grid (``--search grid``), ``--random N`` points of it, or
``--trials N`` points proposed by Optuna's TPE (``--search tpe``), in local worker processes or
on a Ray cluster (``--cluster``); shows a progress bar on stderr (``rich.progress``), streams
each finished run to the CSV and to a journal (``--resume`` skips what a killed run finished),
prints the best runs as a table (``rich.table``), rewrites the CSV sorted by the objective, and
with ``--write-best PATH`` writes the full config with the best point's keys changed.
``--walk-forward N`` searches N rolling windows and prints out-of-sample figures beside
in-sample. Exit codes: 0 fine (also when no run satisfied the constraints: the table says so);
2 bad input (key, value, grid, constraint, objective, replay file, cluster address, a journal
of another search).
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
    from core.analysis.backtest.executors import Executor, Window
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
    parser.add_argument(
        "--search", choices=("grid", "random", "tpe"), default=None,
        help="grid (every point; the default), random (--random N points of the grid) or "
        "tpe (--trials N points proposed by Optuna's TPE; needs arbtui[optuna])",
    )  # fmt: skip
    parser.add_argument("--random", type=int, metavar="N", help="run N random grid points")
    parser.add_argument("--trials", type=int, metavar="N", help="TPE trials (default 50)")
    parser.add_argument(
        "--batch", type=int, default=8, metavar="N",
        help="TPE trials proposed at once (default 8; part of the search, not of the workers: "
        "the same seed gives the same trials with any number of workers)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of random and tpe (default 0)")
    parser.add_argument(
        "--cluster", metavar="ADDR",
        help="run on Ray (arbtui[ray]): auto (the cluster this machine joined), local (a Ray "
        "started for this run) or ray://HOST:PORT; default: [optimize] cluster, else local "
        "worker processes",
    )  # fmt: skip
    parser.add_argument(
        "--walk-forward", type=int, default=0, metavar="N",
        help="N folds: the replay cut into N+1 equal windows; each fold searches one window "
        "and runs its best point on the next (out-of-sample figures beside in-sample)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="skip the trials already in the journal (a killed run goes on where it stopped)",
    )  # fmt: skip
    parser.add_argument(
        "--journal", type=Path, metavar="PATH",
        help="finished trials, one JSON line each (default: the CSV's name + .journal.jsonl)",
    )  # fmt: skip
    parser.add_argument(
        "--study", type=Path, metavar="PATH",
        help="the TPE study, Optuna's journal file (default: the CSV's name + .optuna.log)",
    )  # fmt: skip
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
    from core.analysis.backtest.executors import ClusterError, default_workers, make_executor
    from core.analysis.backtest.optimize import Constraint, CsvStream, plan, rank, write_csv
    from core.analysis.backtest.overrides import (
        grid_size,
        parse_assignment,
        parse_grid,
        with_overrides,
        write_config,
    )
    from core.analysis.backtest.search import (
        JournalError,
        TrialJournal,
        definition,
        run_points,
        run_tpe,
        walk_forward_windows,
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
        search = args.search or ("random" if args.random is not None else "grid")
        if search == "random" and args.random is None:
            raise ValueError("--search random needs --random N")
        if search == "tpe" and args.random is not None:
            raise ValueError("--random N is for --search random; TPE takes --trials N")
        if args.trials is not None and search != "tpe":
            raise ValueError("--trials N is for --search tpe")
        if args.batch < 1 or (args.trials is not None and args.trials < 1):
            raise ValueError("--trials N and --batch N need N >= 1")
        points = plan(grid, args.random if search == "random" else None, args.seed)
        n_trials = min(args.trials or 50, grid_size(grid)) if search == "tpe" else len(points)
        header, events = iter_replay(args.replay)  # a missing or bad file fails here
        next(iter(events), None)
        del events
        folds = walk_forward_windows(header, args.walk_forward) if args.walk_forward else []
    except (ConfigError, ValueError) as exc:
        print(f"arbtui optimize: {exc}", file=sys.stderr)
        return 2
    minimize = args.minimize or (not args.maximize and objective in LOWER_IS_BETTER)
    metrics = metric_names(base)
    csv_path = args.csv or args.out / f"{args.replay.name.split('.')[0]}_optimize.csv"
    journal_path = args.journal or csv_path.with_name(csv_path.stem + ".journal.jsonl")
    study_path = args.study or csv_path.with_name(csv_path.stem + ".optuna.log")
    defn = definition(
        args.replay, header, search=search, grid=grid, fixed=args.set, seed=args.seed,
        n=n_trials, batch=args.batch, objective=objective, minimize=minimize,
        folds=args.walk_forward,
    )  # fmt: skip
    cluster = args.cluster or base.optimize.cluster or None
    try:
        journal = TrialJournal(journal_path, defn, resume=args.resume)
        executor = make_executor(
            args.replay, base, workers=min(args.workers or default_workers(), n_trials),
            cluster=cluster,
        )  # fmt: skip
    except (ClusterError, JournalError) as exc:
        print(f"arbtui optimize: {exc}", file=sys.stderr)
        return 2
    where = (
        f"Ray cluster {cluster}"
        if cluster
        else {"serial": "this process"}.get(executor.name, executor.name)
    )
    print(
        f"optimize          {args.replay}: {search} search, {n_trials} of {grid_size(grid)} "
        f"grid points, {executor.workers} worker(s), objective {objective} "
        f"({'min' if minimize else 'max'}imised), in {where}"
        + (f", constraints {', '.join(map(str, constraints))}" if constraints else "")
        + (f", walk-forward {len(folds)} folds" if folds else "")
        + (f", resuming {len(journal.done)} finished trials" if journal.done else "")
    )
    windows = folds or [(None, None)]
    best: list[float] = []
    outcome: list[tuple[int, list[Trial], Trial | None]] = []
    t0 = time.perf_counter()
    try:
        with progress_bar() as progress:
            task = progress.add_task("optimize", total=n_trials * len(windows), note="")
            for fold, (train, _test) in enumerate(windows):
                path = csv_path if not folds else _fold_csv(csv_path, fold)
                stream = CsvStream(path, keys, metrics, constraints)

                def on_done(
                    t: Trial, done: int, total: int, stream: CsvStream = stream, fold: int = fold
                ) -> None:
                    stream.add(t)
                    v = (t.metrics or {}).get(objective)
                    if v is not None and not t.violated:
                        best.append(float(v))
                    pick = (min if minimize else max)(best) if best else None
                    note = f"best {objective} {pick:.4g}" if pick is not None else ""
                    progress.update(task, completed=fold * n_trials + done, note=note)

                try:
                    if search == "tpe":
                        trials = run_tpe(
                            executor, grid, n_trials, objective=objective, minimize=minimize,
                            seed=args.seed, study_path=study_path, batch=args.batch,
                            window=train, fold=fold, journal=journal, on_done=on_done,
                        )  # fmt: skip
                    else:
                        trials = run_points(
                            executor, points, window=train, fold=fold, journal=journal,
                            on_done=on_done,
                        )  # fmt: skip
                finally:
                    stream.close()
                ranked = rank(trials, objective, minimize=minimize, constraints=constraints)
                write_csv(path, ranked, keys, metrics)
                outcome.append((fold, ranked, ranked[0] if ranked and ranked[0].ok else None))
                best.clear()
            oos = _out_of_sample(executor, outcome, folds) if folds else {}
    except JournalError as exc:
        print(f"arbtui optimize: {exc}", file=sys.stderr)
        return 2
    finally:
        executor.close()
        journal.close()
    wall = time.perf_counter() - t0
    ran = sum(len(r) for _, r, _ in outcome)
    print(f"runs              {ran} in {wall:.1f} s ({ran / wall * 60:,.0f} runs/min)")
    if folds:
        return _report_walk_forward(args, csv_path, keys, objective, outcome, oos, folds, metrics)
    ranked = outcome[0][1]
    print(render(format_table(ranked[: args.top], keys, objective)))
    failed = [t for t in ranked if t.error]
    if failed:
        print(f"failed runs       {len(failed)} (first: {failed[0].params}: {failed[0].error})")
    winner = outcome[0][2]
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


def _fold_csv(csv_path: Path, fold: int) -> Path:
    return csv_path.with_name(f"{csv_path.stem}_fold{fold + 1}{csv_path.suffix}")


def _out_of_sample(
    executor: Executor,
    outcome: list[tuple[int, list[Trial], Trial | None]],
    folds: list[tuple[Window, Window]],
) -> dict[int, Trial]:
    """Each fold's best point run on the fold's out-of-sample window."""
    from core.analysis.backtest.optimize import Trial

    tasks = [(fold, best.params, folds[fold][1]) for fold, _, best in outcome if best]
    out: dict[int, Trial] = {}
    for fold, (m, err, wall) in executor.run(tasks):
        out[fold] = Trial(fold, outcome[fold][2].params, m, err, wall_s=wall)  # type: ignore[union-attr]
    return out


def _report_walk_forward(
    args: argparse.Namespace,
    csv_path: Path,
    keys: list[str],
    objective: str,
    outcome: list[tuple[int, list[Trial], Trial | None]],
    oos: dict[int, Trial],
    folds: list[tuple[Window, Window]],
    metrics: list[str],
) -> int:
    """The walk-forward table (in-sample beside out-of-sample) and its CSV."""
    import csv

    from core.domain.timeutil import ms_to_iso

    cols = [objective, *(m for m in SHOWN_METRICS if m != objective)]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for head in ["fold", "in-sample", "out-of-sample", *(k.split(".")[-1] for k in keys)]:
        table.add_column(head, justify="right")
    for c in cols:
        table.add_column(f"{c} IS", justify="right")
        table.add_column(f"{c} OOS", justify="right")
    out_csv = csv_path.with_name(f"{csv_path.stem}_walkforward{csv_path.suffix}")
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["fold", "is_start", "is_end", "oos_start", "oos_end", *keys,
             *(f"{m}_is" for m in metrics), *(f"{m}_oos" for m in metrics), "oos_error"]
        )  # fmt: skip
        for fold, _ranked, best in outcome:
            train, test_window = folds[fold]
            assert train is not None and test_window is not None
            span = [ms_to_iso(x)[:16] for x in (*train, *test_window)]
            test = oos.get(fold)
            ism = best.metrics if best else None
            osm = test.metrics if test else None
            params = [str(best.params[k]) if best else "-" for k in keys]
            table.add_row(
                str(fold + 1), f"{span[0]} - {span[1]}", f"{span[2]} - {span[3]}", *params,
                *(x for col in cols for x in (_cell(ism, col), _cell(osm, col))),
            )  # fmt: skip
            w.writerow(
                [fold + 1, *span, *params,
                 *((ism or {}).get(m, "") for m in metrics),
                 *((osm or {}).get(m, "") for m in metrics),
                 test.error or "" if test else "no in-sample point satisfied the constraints"]
            )  # fmt: skip
    print(render(table))
    for fold, _, _ in outcome:
        print(f"wrote             {_fold_csv(csv_path, fold)}")
    print(f"wrote             {out_csv} (in-sample and out-of-sample, one fold a row)")
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
