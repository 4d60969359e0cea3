"""Search strategies, the resumable trial journal and walk-forward windows of ``arbtui optimize``.

- grid and random: the points of :func:`core.analysis.backtest.optimize.plan`, run by any
  executor (:mod:`core.analysis.backtest.executors`);
- TPE (Optuna's Tree-structured Parzen Estimator, optional extra ``arbtui[optuna]``): each grid
  key becomes an integer index over its grid values, so TPE proposes grid points only. Trials
  are asked in batches of ``batch`` (fixed, not the number of workers) by a sampler seeded with
  ``seed + batch number``, and a batch is asked whole before any of it runs; every result of a
  batch is told before the next is asked. So the proposals depend on the seed and on the
  finished trials only: serial, the local pool and Ray propose the same points, and a run
  killed and resumed proposes what an unbroken run would have. The study lives in Optuna's
  journal file (``JournalFileBackend``).
- the journal (:class:`TrialJournal`): one JSON line per finished trial (exact metrics), with
  the search's definition on the first line; ``--resume`` skips every trial already in it and
  refuses a journal of another search.
- walk-forward (:func:`walk_forward_windows`): the replay's span cut into ``folds + 1`` equal
  windows; fold ``i`` searches window ``i`` (in-sample) and runs its best point on window
  ``i + 1`` (out-of-sample).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from core.analysis.backtest.executors import Executor, Metrics, Outcome, Window
from core.analysis.backtest.optimize import Grid, Trial
from core.domain.events import ReplayHeader

OnDone = Callable[[Trial, int, int], None]


class JournalError(ValueError):
    """The journal or study on disk belongs to another search (message says which file)."""


@dataclass(frozen=True, slots=True)
class Finished:
    """A trial read back from the journal."""

    params: dict[str, Any]
    metrics: Metrics | None
    error: str | None
    wall_s: float


class TrialJournal:
    """JSON lines at ``path``: ``{"search": definition}``, then one finished trial a line
    (``fold``, ``index``, ``params``, ``metrics``, ``error``, ``wall_s``), flushed at once.
    ``resume`` keeps what is there (it must be the same search), else the file starts anew."""

    def __init__(self, path: Path, definition: dict[str, Any], *, resume: bool) -> None:
        self.path = path
        self.done: dict[tuple[int, int], Finished] = {}
        if resume and path.exists():
            self._read(definition)
            self.fh: IO[str] = path.open("a", encoding="utf-8")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = path.open("w", encoding="utf-8")
            self._write({"search": definition})

    def _read(self, definition: dict[str, Any]) -> None:
        with self.path.open(encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        first = json.loads(lines[0]) if lines else {}
        if first.get("search") != json.loads(json.dumps(definition)):
            raise JournalError(
                f"--resume: {self.path} holds another search (grid, strategy, seed, replay or "
                "window differ); remove it or run without --resume"
            )
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the kill: that trial runs again
                continue
            self.done[(row["fold"], row["index"])] = Finished(
                row["params"], row["metrics"], row["error"], row["wall_s"]
            )

    def _write(self, row: dict[str, Any]) -> None:
        self.fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.fh.flush()

    def add(self, fold: int, trial: Trial) -> None:
        """Record a finished trial."""
        self._write(
            {
                "fold": fold,
                "index": trial.index,
                "params": trial.params,
                "metrics": trial.metrics,
                "error": trial.error,
                "wall_s": trial.wall_s,
            }
        )

    def close(self) -> None:
        """Close the file."""
        self.fh.close()


def _settle(trial: Trial, outcome: Outcome) -> None:
    trial.metrics, trial.error, trial.wall_s = outcome


def run_points(
    executor: Executor,
    points: list[dict[str, Any]],
    *,
    window: Window = None,
    fold: int = 0,
    journal: TrialJournal | None = None,
    on_done: OnDone | None = None,
) -> list[Trial]:
    """Run every point (those already in ``journal`` are taken from it, not run again);
    ``on_done(trial, done, total)`` after each. Returns the trials in point order."""
    trials = [Trial(i, p) for i, p in enumerate(points)]
    done = 0
    todo = []
    for t in trials:
        old = journal.done.get((fold, t.index)) if journal else None
        if old is not None and old.params == t.params:
            t.metrics, t.error, t.wall_s = old.metrics, old.error, old.wall_s
            done += 1
            if on_done:
                on_done(t, done, len(trials))
        else:
            todo.append((t.index, t.params, window))
    for index, outcome in executor.run(todo):
        t = trials[index]
        _settle(t, outcome)
        if journal:
            journal.add(fold, t)
        done += 1
        if on_done:
            on_done(t, done, len(trials))
    return trials


def run_tpe(
    executor: Executor,
    grid: Grid,
    n_trials: int,
    *,
    objective: str,
    minimize: bool,
    seed: int,
    study_path: Path,
    batch: int = 8,
    window: Window = None,
    fold: int = 0,
    journal: TrialJournal | None = None,
    on_done: OnDone | None = None,
) -> list[Trial]:
    """``n_trials`` trials proposed by Optuna's TPE over the grid's points (module docstring:
    batches, seeds, resume). A failed run, or one without ``objective``, is a failed trial; a point
    proposed again is not run again (its trial takes the first one's figures, wall_s 0)."""
    try:
        import optuna
        from optuna.distributions import BaseDistribution, IntDistribution
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        from optuna.trial import TrialState
    except ImportError:
        raise ValueError("--search tpe needs Optuna: pip install 'arbtui[optuna]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if n_trials < 1 or batch < 1:
        raise ValueError("--trials N and --batch N need N >= 1")
    study_path.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(study_path)))
    name = f"arbtui-fold{fold}"
    direction: Literal["minimize", "maximize"] = "minimize" if minimize else "maximize"
    study = optuna.create_study(
        study_name=name, storage=storage, direction=direction, load_if_exists=True
    )
    if study.direction.name.lower() != direction:
        raise JournalError(f"{study_path}: study {name} was run with another direction")
    keys = [k for k, _ in grid]
    values = {k: list(v) for k, v in grid}
    dists: dict[str, BaseDistribution] = {k: IntDistribution(0, len(values[k]) - 1) for k in keys}
    trials: list[Trial] = []
    seen: dict[tuple[tuple[str, Any], ...], Trial] = {}  # finished points of this fold
    pending: dict[tuple[tuple[str, Any], ...], int] = {}  # point -> the trial that runs it
    done = 0

    def finish(t: Trial) -> None:
        nonlocal done
        done += 1
        if on_done:
            on_done(t, done, n_trials)

    for first in range(0, n_trials, batch):
        numbers = range(first, min(first + batch, n_trials))
        stored = {t.number: t for t in study.get_trials(deepcopy=False)}
        sampler = optuna.samplers.TPESampler(seed=seed + first // batch)
        asker = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        for num in numbers:  # the whole batch is asked before any of it runs
            if num not in stored:
                asked = asker.ask(fixed_distributions=dists)
                if asked.number != num:
                    raise JournalError(
                        f"{study_path}: trial numbers out of step (asked {asked.number}, "
                        f"expected {num}); remove it and the journal, or run without --resume"
                    )
                stored[num] = study.get_trials(deepcopy=False)[num]
        batch_trials = []
        todo = []
        twins: dict[int, list[Trial]] = {}  # a point proposed again runs once
        for num in numbers:
            idx = stored[num].params
            t = Trial(num, {k: values[k][int(idx[k])] for k in keys})
            batch_trials.append(t)
            point = tuple(t.params.items())
            old = journal.done.get((fold, num)) if journal else None
            if old is not None and old.params == t.params:
                t.metrics, t.error, t.wall_s = old.metrics, old.error, old.wall_s
            elif point in seen:
                t.metrics, t.error = seen[point].metrics, seen[point].error
                if journal:
                    journal.add(fold, t)
            elif point in pending:
                twins.setdefault(pending[point], []).append(t)
                continue
            else:
                pending[point] = num
                todo.append((num, t.params, window))
                continue
            seen[point] = t
            _tell(study, stored[num], t, objective, TrialState)
            finish(t)
        by_number = {t.index: t for t in batch_trials}
        for num, outcome in executor.run(todo):
            t = by_number[num]
            _settle(t, outcome)
            seen[tuple(t.params.items())] = t
            for twin in [t, *twins.get(num, [])]:
                if twin is not t:
                    twin.metrics, twin.error = t.metrics, t.error
                if journal:
                    journal.add(fold, twin)
                _tell(study, stored[twin.index], twin, objective, TrialState)
                finish(twin)
        pending.clear()
        trials.extend(batch_trials)
    return trials


def _tell(study: Any, frozen: Any, t: Trial, objective: str, states: Any) -> None:
    if frozen.state.is_finished():
        return
    v = (t.metrics or {}).get(objective)
    if v is None:
        study.tell(t.index, state=states.FAIL, skip_if_finished=True)
    else:
        study.tell(t.index, float(v), skip_if_finished=True)


def walk_forward_windows(header: ReplayHeader, folds: int) -> list[tuple[Window, Window]]:
    """``folds`` (in-sample, out-of-sample) window pairs: the replay's span
    ``[start_ts_ms, end_ts_ms)`` cut into ``folds + 1`` equal windows (ms), rolled forward."""
    if folds < 1:
        raise ValueError("--walk-forward N needs N >= 1")
    start, end = header.start_ts_ms, header.end_ts_ms
    cuts = [start + (end - start) * i // (folds + 1) for i in range(folds + 2)]
    return [((cuts[i], cuts[i + 1]), (cuts[i + 1], cuts[i + 2])) for i in range(folds)]


def definition(
    replay: Path,
    header: ReplayHeader,
    *,
    search: str,
    grid: Grid,
    fixed: Sequence[str],
    seed: int,
    n: int | None,
    batch: int,
    objective: str,
    minimize: bool,
    folds: int,
) -> dict[str, Any]:
    """What makes a search the same search (the journal's first line)."""
    return {
        "replay": replay.name,
        "events": header.events,
        "start_ts_ms": header.start_ts_ms,
        "end_ts_ms": header.end_ts_ms,
        "search": search,
        "grid": [[k, [str(v) for v in vs]] for k, vs in grid],
        "set": list(fixed),
        "seed": seed,
        "n": n,
        "batch": batch,
        "objective": objective,
        "minimize": minimize,
        "walk_forward": folds,
    }
