"""The optimiser gives the same answer everywhere: serial, the local pool (forked, from a fork
server, spawned) and a Ray local cluster; a run SIGKILLed halfway resumes and finishes with the
same result, and leaves no worker behind; the pool forks only a single-threaded process; a bad
--cluster is a clear error."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.analysis.backtest.executors import (
    LocalPool,
    RayCluster,
    Serial,
    pool_start_method,
    run_trial,
    threads_running,
)
from core.analysis.backtest.optimize import Trial, plan, rank
from core.analysis.backtest.overrides import parse_grid
from core.analysis.backtest.search import run_points, run_tpe
from core.domain.config import Settings
from tests.conftest import HISTORY_CONFIG, ROOT, SHIPPED_REPLAY, eventually

GRID = ("strategy.observations=1:3:1", "strategy.entry_edge_pct=0.2:1.0:0.2")


def grid_of(settings: Settings) -> list[tuple[str, list[Any]]]:
    return [parse_grid(g, settings) for g in GRID]


def search(executor: Any, settings: Settings, study: Path) -> dict[str, Any]:
    """Random (5 of 15 points, seed 7) and TPE (8 trials, batches of 4, seed 3) on one
    executor: every trial's params and metrics, and the best of each."""
    grid = grid_of(settings)
    try:
        rnd = run_points(executor, plan(grid, 5, seed=7))
        tpe = run_tpe(
            executor, grid, 8, objective="total_pnl_usd", minimize=False, seed=3,
            study_path=study, batch=4,
        )  # fmt: skip
    finally:
        executor.close()

    def best(trials: list[Trial]) -> tuple[dict[str, Any], Any]:
        top = rank(trials, "total_pnl_usd", minimize=False, constraints=[])[0]
        return top.params, top.metrics

    return {
        "random": [(t.params, t.metrics, t.error) for t in rnd],
        "tpe": [(t.params, t.metrics, t.error) for t in tpe],
        "best": (best(rnd), best(tpe)),
    }


@pytest.fixture(scope="module")
def serial_answer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.domain.config import load_config

    pytest.importorskip("optuna", reason="TPE needs the optuna extra")
    settings = load_config(HISTORY_CONFIG)
    return search(Serial(SHIPPED_REPLAY, settings), settings, tmp_path_factory.mktemp("s") / "s")


def test_serial_search_finds_real_figures(serial_answer: dict[str, Any]) -> None:
    assert len(serial_answer["random"]) == 5 and len(serial_answer["tpe"]) == 8
    assert all(err is None for _, _, err in serial_answer["random"] + serial_answer["tpe"])
    (rnd_params, rnd_metrics), (tpe_params, tpe_metrics) = serial_answer["best"]
    assert set(rnd_params) == set(tpe_params) == {k.split("=")[0] for k in GRID}
    assert rnd_metrics["fills"] > 0 and tpe_metrics["total_pnl_usd"] != 0


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_the_local_pool_gives_the_serial_answer(
    serial_answer: dict[str, Any], settings: Settings, tmp_path: Path, start_method: str
) -> None:
    pool = LocalPool(SHIPPED_REPLAY, settings, workers=2, start_method=start_method)
    assert pool.start_method == start_method
    assert len(pool.startup()) == 2  # both workers started with the pool, before any trial
    assert search(pool, settings, tmp_path / "study") == serial_answer


FORKED_SEARCH = """
import json, sys
from pathlib import Path
from core.analysis.backtest.executors import LocalPool, threads_running
from core.domain.config import load_config
from tests.test_optimize_executors import search
settings = load_config(sys.argv[2])
assert threads_running() == 1
pool = LocalPool(sys.argv[1], settings, 2)  # before Optuna (and numpy's threads) are imported
assert pool.start_method == "fork" and len(pool.startup()) == 2
print(json.dumps(search(pool, settings, Path(sys.argv[3]))))
"""


def test_the_forked_local_pool_gives_the_serial_answer(
    serial_answer: dict[str, Any], tmp_path: Path
) -> None:
    """In a process of its own, as ``arbtui optimize`` makes it: here, Optuna's import (numpy's
    threads) would make the pool take the fork server."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the pool forks on Linux only")
    out = subprocess.run(
        [sys.executable, "-c", FORKED_SEARCH, str(SHIPPED_REPLAY), str(HISTORY_CONFIG),
         str(tmp_path / "study")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(json.dumps(serial_answer))


def test_the_pool_forks_only_while_this_process_runs_one_thread() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the pool forks on Linux only")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert threads_running() >= 2
        assert pool_start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
    method = pool_start_method()  # waits for the thread just joined to leave the OS's list
    assert method == ("fork" if threads_running() == 1 else "forkserver")  # numpy's may stay


AFTER_A_READ = """
from core.analysis.backtest.executors import pool_start_method
from core.analysis.replay import iter_replay
import sys
for _ in range(20):
    header, events = iter_replay(sys.argv[1])  # a gzip file: read on a thread of its own
    next(iter(events))
    del events  # the reader thread joined; the OS may list it a moment longer
    assert pool_start_method() == "fork"
"""


def test_a_replay_read_just_before_does_not_stop_the_pool_forking() -> None:
    """``arbtui optimize`` reads the replay's first block to check the file, then makes the
    pool: the gunzip thread it joined must not send the pool to the fork server."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the pool forks on Linux only")
    out = subprocess.run(
        [sys.executable, "-c", AFTER_A_READ, str(SHIPPED_REPLAY)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


ORPHAN_SCRIPT = """
import sys, time
from core.analysis.backtest.executors import LocalPool
from core.domain.config import load_config
if __name__ == "__main__":
    pool = LocalPool(sys.argv[1], load_config(sys.argv[2]), 2, sys.argv[3])
    pool.startup()
    print(" ".join(str(p) for p in pool.pool._processes), flush=True)
    list(pool.run([(i, {}, None) for i in range(50)]))
"""


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_a_killed_optimiser_leaves_no_worker_behind(start_method: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, str(SHIPPED_REPLAY), str(HISTORY_CONFIG),
         start_method],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has ended
        except FileNotFoundError:
            return True

    eventually(lambda: all(gone(p) for p in pids), timeout_s=10)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="the ray extra (arbtui[ray]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_ray_local_cluster_gives_the_serial_answer(
    serial_answer: dict[str, Any], ray_local: Any, settings: Settings, tmp_path: Path
) -> None:
    cluster = RayCluster(SHIPPED_REPLAY, settings, "auto")  # joins the Ray started above
    assert cluster.workers == 2
    assert search(cluster, settings, tmp_path / "study") == serial_answer


def test_a_walk_forward_window_runs_only_its_events(settings: Settings) -> None:
    from core.analysis.backtest.executors import ReplayData

    data = ReplayData(str(SHIPPED_REPLAY), "k", preload=False)
    whole, _, _ = run_trial(data, settings, {})
    start, end = 1_583_020_800_000, 1_583_020_800_000 + 7 * 86_400_000
    week, err, _ = run_trial(data, settings, {}, (start, end))
    assert err is None and whole is not None and week is not None
    assert week["fills"] < whole["fills"]


def arbtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=300,
    )  # fmt: skip


def optimize_args(out: Path, *extra: str) -> list[str]:
    return [
        "optimize", str(SHIPPED_REPLAY), "--config", str(HISTORY_CONFIG),
        *(a for g in GRID for a in ("--grid", g)), "--objective", "total_pnl",
        "--csv", str(out / "o.csv"), *extra,
    ]  # fmt: skip


def rows_without_wall(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(path.open())]


@pytest.mark.parametrize(
    "how", [("--search", "tpe", "--trials", "10", "--batch", "4"), ("--search", "grid")]
)
def test_a_run_killed_halfway_resumes_without_redoing_trials_and_ends_the_same(
    tmp_path: Path, how: tuple[str, ...]
) -> None:
    if how[1] == "tpe":
        pytest.importorskip("optuna", reason="TPE needs the optuna extra")
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = arbtui(*optimize_args(whole, *how, "--workers", "1"))
    assert done.returncode == 0, done.stderr
    total = len(rows_without_wall(whole / "o.csv"))
    journal = broken / "o.journal.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *optimize_args(broken, *how, "--workers", "1")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def finished() -> int:
            return len(journal.read_text().splitlines()) - 1 if journal.exists() else 0

        eventually(lambda: finished() >= total // 2, timeout_s=120, every_s=0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = finished()
    assert 0 < before < total
    streamed = rows_without_wall(broken / "o.csv")  # rows streamed as trials finished
    assert len(streamed) >= before - 1 and all(r["rank"] == "" for r in streamed)
    again = arbtui(*optimize_args(broken, *how, "--workers", "2", "--resume"))
    assert again.returncode == 0, again.stderr
    assert f"resuming {before} finished trials" in again.stdout
    lines = journal.read_text().splitlines()
    assert len(lines) - 1 == total  # no finished trial ran again
    keys = [(json.loads(x)["fold"], json.loads(x)["index"]) for x in lines[1:]]
    assert len(set(keys)) == total
    assert rows_without_wall(broken / "o.csv") == rows_without_wall(whole / "o.csv")
    best = [x for x in again.stdout.splitlines() if x.startswith("best ")]
    assert best == [x for x in done.stdout.splitlines() if x.startswith("best ")]


def test_resume_refuses_the_journal_of_another_search(tmp_path: Path) -> None:
    first = arbtui(*optimize_args(tmp_path, "--search", "random", "--random", "2"))
    assert first.returncode == 0, first.stderr
    other = arbtui(*optimize_args(tmp_path, "--search", "random", "--random", "3", "--resume"))
    assert other.returncode == 2
    assert "o.journal.jsonl holds another search" in other.stderr


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ray://127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"),
        ("10.0.0.5:10001", "expected auto, local or ray://HOST:PORT"),
        ("ray://nowhere", "expected auto, local or ray://HOST:PORT"),
    ],
)
def test_a_bad_cluster_address_is_a_clear_error_naming_it(
    tmp_path: Path, address: str, why: str
) -> None:
    out = arbtui(*optimize_args(tmp_path, "--cluster", address))
    assert out.returncode == 2
    assert out.stderr.startswith(f"arbtui optimize: --cluster {address}: {why}")
    assert out.stdout == ""


def test_walk_forward_prints_out_of_sample_beside_in_sample(tmp_path: Path) -> None:
    out = arbtui(*optimize_args(tmp_path, "--search", "random", "--random", "3",
                                "--walk-forward", "2", "--workers", "2"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "walk-forward 2 folds" in out.stdout
    assert "total_pnl_usd IS" in out.stdout and "total_pnl_usd OOS" in out.stdout
    rows = list(csv.DictReader((tmp_path / "o_walkforward.csv").open()))
    assert [r["fold"] for r in rows] == ["1", "2"]
    assert [r["is_start"] for r in rows] == ["2020-03-01T00:00", "2020-03-08T16:00"]
    assert rows[0]["oos_start"] == rows[0]["is_end"] == rows[1]["is_start"]
    assert rows[1]["oos_end"] == "2020-03-24T00:00"
    for fold, r in enumerate(rows, 1):
        ranked = list(csv.DictReader((tmp_path / f"o_fold{fold}.csv").open()))
        assert r["total_pnl_usd_is"] and r["total_pnl_usd_oos"]
        assert float(ranked[0]["total_pnl_usd"]) == pytest.approx(float(r["total_pnl_usd_is"]))


def test_the_config_can_name_the_cluster_and_a_bad_one_is_named(tmp_path: Path) -> None:
    text = HISTORY_CONFIG.read_text() + '\n[optimize]\ncluster = "ray://127.0.0.1:1"\n'
    (tmp_path / "c.toml").write_text(text)
    args = optimize_args(tmp_path)
    args[args.index(str(HISTORY_CONFIG))] = str(tmp_path / "c.toml")
    out = arbtui(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("arbtui optimize: --cluster ray://127.0.0.1:1: no Ray cluster")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_replay_cut_short_fails_each_trial_not_the_start(
    settings: Settings, tmp_path: Path, workers: int
) -> None:
    import gzip

    with gzip.open(SHIPPED_REPLAY, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)[:2000]
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines))
    executor = Serial(cut, settings) if workers == 1 else LocalPool(cut, settings, workers)
    try:
        trials = run_points(executor, [{}, {"strategy.observations": 2}])
    finally:
        executor.close()
    assert [t.metrics for t in trials] == [None, None]
    assert all("cut.jsonl:2000: the file ends after 1999 events" in (t.error or "") for t in trials)
