"""Grid and random search over config keys, one backtest per point, in worker processes.

Workers are a :class:`concurrent.futures.ProcessPoolExecutor` with an explicit start method
(``spawn`` by default: a fresh interpreter per worker, no state inherited from the parent, the
same on every OS). Each worker reads the replay once (its initializer) and then runs the points
it is given; only the overrides go out and only the flat metrics come back. The functions the
workers run are top-level in this module, so a spawned child finds them by import; the entry
point that starts the pool must sit under ``if __name__ == "__main__":`` (the ``arbtui``
script and ``python -m tui.cli`` do).

A point that fails (a bad combination such as ``ema_fast >= ema_slow``, or an exception in
the run) is kept with its error; it never stops the search.
"""

from __future__ import annotations

import csv
import multiprocessing
import operator
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.analysis.backtest.overrides import base_raw, grid_point, grid_size, with_overrides
from core.analysis.backtest.runner import run_events
from core.analysis.backtest.stats import compute_stats
from core.analysis.replay import load_replay
from core.domain.config import ConfigError, Settings
from core.domain.events import Event, ReplayHeader

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


# ------------------------------------------------------------------- the workers
_worker: dict[str, Any] = {}


def _init_worker(path: str, settings: Settings) -> None:
    """Pool initializer: read the replay once per worker process."""
    header, events = load_replay(path)
    _worker.update(header=header, events=events, settings=settings, raw=base_raw(settings))


def _run_point(index: int, params: dict[str, Any]) -> tuple[int, Metrics | None, str | None, float]:
    """Run one point in a worker: (index, metrics or None, error or None, wall seconds)."""
    t0 = time.perf_counter()
    try:
        settings = with_overrides(_worker["settings"], params, _worker["raw"])
        header: ReplayHeader = _worker["header"]
        events: list[Event] = _worker["events"]
        run = run_events(settings, events, header=header)
        return index, compute_stats(run).row(), None, time.perf_counter() - t0
    except ConfigError as exc:
        return index, None, str(exc).split(": ", 1)[-1], time.perf_counter() - t0
    except Exception as exc:  # one bad point must not stop the search
        return index, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every OS
        return max(1, os.cpu_count() or 1)


def run_search(
    replay: str | Path,
    settings: Settings,
    points: list[dict[str, Any]],
    *,
    workers: int | None = None,
    start_method: str = "spawn",
    on_done: Callable[[Trial, int, int], None] | None = None,
) -> list[Trial]:
    """Run every point; ``on_done(trial, done, total)`` after each. ``workers`` = 1 runs in
    this process (no pool). Returns the trials in point order."""
    trials = [Trial(i, p) for i, p in enumerate(points)]
    n = workers or default_workers()
    done = 0

    def finish(result: tuple[int, Metrics | None, str | None, float]) -> None:
        nonlocal done
        index, metrics, error, wall = result
        t = trials[index]
        t.metrics, t.error, t.wall_s = metrics, error, wall
        done += 1
        if on_done:
            on_done(t, done, len(trials))

    if n == 1 or len(points) == 1:
        _init_worker(str(replay), settings)
        for t in trials:
            finish(_run_point(t.index, t.params))
        return trials
    ctx = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(
        max_workers=min(n, len(points)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(str(replay), settings),
    ) as pool:
        todo: Iterator[Trial] = iter(trials)
        running: set[Future[tuple[int, Metrics | None, str | None, float]]] = set()
        try:
            while True:
                while len(running) < 4 * n:  # a bounded number in flight
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    running.add(pool.submit(_run_point, nxt.index, nxt.params))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    finish(fut.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return trials


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
    """All trials, ranked, one a row: rank, ok, the parameters, every metric, violated, error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "ok", *keys, *metrics, "violated", "error", "wall_s"])
        for r, t in enumerate(ranked, 1):
            m = t.metrics or {}
            w.writerow(
                [
                    r,
                    t.ok,
                    *(t.params[k] for k in keys),
                    *(_cell(m.get(x)) for x in metrics),
                    ";".join(t.violated),
                    t.error or "",
                    f"{t.wall_s:.3f}",
                ]
            )
    return path


def _cell(v: float | int | None) -> str:
    if v is None:
        return ""
    return str(v) if isinstance(v, int) else f"{v:.10g}"
