"""Grid and random search over config keys, one backtest per point, in worker processes.

Where the backtests run is :mod:`core.analysis.backtest.executors` (this process, a pool of
local worker processes by default, forked from this one on Linux while it runs one thread, or a
Ray cluster; the replay shared, not shipped with each task); the search strategies (grid,
random, Optuna TPE), the resumable journal and walk-forward windows are
:mod:`core.analysis.backtest.search`. Only the overrides go out and only the flat metrics come
back. The entry point that starts a pool must sit under ``if __name__ == "__main__":`` (the
``arbtui`` script and ``python -m tui.cli`` do): a pool that is not forked imports it again.

A point that fails (a bad combination such as ``ema_fast >= ema_slow``, or an exception in
the run) is kept with its error; it never stops the search.
"""

from __future__ import annotations

import csv
import operator
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.analysis.backtest.executors import default_workers, make_executor
from core.analysis.backtest.overrides import grid_point, grid_size
from core.domain.config import Settings

Grid = Sequence[tuple[str, Sequence[Any]]]
Metrics = dict[str, float | int | None]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}  # fmt: skip
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)\s*$")


@dataclass(frozen=True, slots=True)
class Constraint:
    """``metric op value``, e.g. ``max_drawdown_pct<5``. A run whose metric is missing (None)
    does not satisfy it."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``"max_drawdown_pct<5"``; ValueError naming the text when malformed."""
        m = _CONSTRAINT.match(text)
        if not m:
            raise ValueError(
                f"--constraint {text!r}: expected METRIC OP NUMBER with OP one of "
                "< <= > >= == !=, e.g. 'max_drawdown_pct<5'"
            )
        try:
            value = float(m.group(3))
        except ValueError:
            raise ValueError(f"--constraint {text!r}: {m.group(3)!r} is not a number") from None
        return cls(m.group(1), m.group(2), value)

    def holds(self, metrics: Metrics) -> bool:
        """True when the run satisfies the constraint."""
        v = metrics.get(self.metric)
        return v is not None and _OPS[self.op](float(v), self.value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


@dataclass(slots=True)
class Trial:
    """One point of the search and its outcome."""

    index: int
    params: dict[str, Any]
    metrics: Metrics | None = None
    error: str | None = None
    violated: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Ran and satisfied every constraint."""
        return self.metrics is not None and not self.violated


def plan(grid: Grid, random_n: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """The points to run: the whole grid, or ``random_n`` distinct points of it drawn with
    ``seed`` (the whole grid when it has no more points than that)."""
    total = grid_size(grid)
    if random_n is None or random_n >= total:
        return [grid_point(grid, i) for i in range(total)]
    if random_n < 1:
        raise ValueError("--random N needs N >= 1")
    picks = sorted(random.Random(seed).sample(range(total), random_n))
    return [grid_point(grid, i) for i in picks]


# ---------------------------------------------------------------- the search
def run_search(
    replay: str | Path,
    settings: Settings,
    points: list[dict[str, Any]],
    *,
    workers: int | None = None,
    start_method: str | None = None,
    cluster: str | None = None,
    on_done: Callable[[Trial, int, int], None] | None = None,
) -> list[Trial]:
    """Run every point; ``on_done(trial, done, total)`` after each. ``workers`` = 1 runs in
    this process (no pool); ``cluster`` (``auto``, ``local``, ``ray://HOST:PORT``) runs on
    Ray (:mod:`core.analysis.backtest.executors`). Returns the trials in point order."""
    from core.analysis.backtest.search import run_points

    n = min(workers or default_workers(), max(1, len(points)))
    executor = make_executor(
        replay, settings, workers=n, cluster=cluster, start_method=start_method
    )
    try:
        return run_points(executor, points, on_done=on_done)
    finally:
        executor.close()


# ----------------------------------------------------------------- the ranking
def rank(
    trials: list[Trial], objective: str, *, minimize: bool, constraints: Sequence[Constraint]
) -> list[Trial]:
    """Trials best first: runs that satisfy every constraint, by ``objective`` (a missing
    objective last), then runs that violate one, then failed runs. Sets ``violated``."""
    for t in trials:
        t.violated = [str(c) for c in constraints if t.metrics and not c.holds(t.metrics)]

    def key(t: Trial) -> tuple[int, int, float, int]:
        if t.metrics is None:
            return (2, 1, 0.0, t.index)
        v = t.metrics.get(objective)
        group = 1 if t.violated else 0
        if v is None:
            return (group, 1, 0.0, t.index)
        return (group, 0, float(v) if minimize else -float(v), t.index)

    return sorted(trials, key=key)


def write_csv(path: Path, ranked: list[Trial], keys: list[str], metrics: list[str]) -> Path:
    """All trials, ranked, one a row: rank, ok, the parameters, every metric, violated, error
    (written beside and moved into place, so the streamed file is replaced whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "ok", *keys, *metrics, "violated", "error", "wall_s"])
        for r, t in enumerate(ranked, 1):
            w.writerow(_row(t, r, keys, metrics))
    tmp.replace(path)
    return path


def _row(t: Trial, rank: int | str, keys: list[str], metrics: list[str]) -> list[Any]:
    m = t.metrics or {}
    return [
        rank,
        t.ok,
        *(t.params[k] for k in keys),
        *(_cell(m.get(x)) for x in metrics),
        ";".join(t.violated),
        t.error or "",
        f"{t.wall_s:.3f}",
    ]


class CsvStream:
    """The CSV while the search runs: the header, then one row a finished trial (rank empty,
    ``ok`` and ``violated`` by ``constraints``), flushed at once; :func:`write_csv` replaces it
    with the ranked table at the end."""

    def __init__(
        self, path: Path, keys: list[str], metrics: list[str], constraints: Sequence[Constraint]
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh: IO[str] = path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.fh)
        self.keys, self.metrics, self.constraints = keys, metrics, constraints
        self.writer.writerow(["rank", "ok", *keys, *metrics, "violated", "error", "wall_s"])
        self.fh.flush()

    def add(self, t: Trial) -> None:
        """One finished trial."""
        t.violated = [str(c) for c in self.constraints if t.metrics and not c.holds(t.metrics)]
        self.writer.writerow(_row(t, "", self.keys, self.metrics))
        self.fh.flush()

    def close(self) -> None:
        """Close the file."""
        self.fh.close()


def _cell(v: float | int | None) -> str:
    if v is None:
        return ""
    return str(v) if isinstance(v, int) else f"{v:.10g}"
