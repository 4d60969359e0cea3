"""Where the optimiser's backtests run: in this process, a local process pool, or a Ray cluster.

Every executor runs the same function on the same events (:func:`run_trial`), so a search gives
the same metrics whichever runs it. The replay is shared, never shipped with each task:

- serial and the local pool (:class:`LocalPool`, the default): a replay of at most
  :data:`PRELOAD_MAX_EVENTS` events (a month of minute bars) is decoded once and kept; a bigger
  one is streamed from the file on every run (one block or record batch at a time), so a
  worker's memory does not grow with the file, and a columnar file (``.arrow``) is
  memory-mapped: one copy in the page cache for all workers.
- Ray (:class:`RayCluster`, optional extra ``arbtui[ray]``): the replay's columnar form is put
  in the object store once (:func:`ray.put`), and each node's workers read it from there
  zero-copy (Ray copies an object once per node); tasks carry only the overrides.

How the local pool starts its workers (:func:`pool_start_method`; measured with
``bench/scale_bench.py optimize``): a spawned worker is a new interpreter that imports the
engine and the parent's main module again and decodes the replay again, 0.5-2.5 s of start-up
per worker before its first trial, which on a month's replay (0.25-0.3 s a trial) cost the pool
more than its second core gave. So, on Linux, the pool is **forked** from the parent, which has
already imported the engine and decoded the replay: a worker is ready in milliseconds and
shares the decoded events copy-on-write (the parent freezes its objects for the garbage
collector first, so a worker's collections do not touch, and so copy, the shared pages). Fork
is only safe while the parent runs a single thread (a lock held by another thread at the fork
stays held in the child for ever), and a program such as the console runs threads (the engine
host, Textual), numpy (Optuna imports it) starts OpenBLAS threads and pyarrow (an ``.arrow``
replay) its thread pools. The pool therefore forks only while this process has exactly one
thread (``/proc/self/task``, which counts native threads too; ``arbtui optimize`` makes its
pool before anything starts one) and otherwise uses a ``forkserver`` preloaded with the engine
(the fork server is a fresh single-threaded process, so its forks are safe; each worker then
decodes a month's replay once itself), and ``spawn`` where neither exists. Every worker starts
when the pool is made (:class:`LocalPool`), so its start-up overlaps the parent's own work
(CSV, journal, progress bar), and every worker ends when the parent dies, even by SIGKILL.
Tasks go one at a time, at most two per worker in flight, so results stream to the CSV and the
progress bar as trials finish: the parent spends about 2 ms of CPU a trial (submitting, the
metrics back, the CSV and journal rows) against 0.25 s for the trial, so chunking tasks would
only make the tail uneven.

A point that fails (a bad combination, an exception in the run) comes back with its error; it
never stops the search. Nothing here imports textual or rich.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from core.analysis.backtest.overrides import base_raw, with_overrides
from core.analysis.backtest.runner import run_events
from core.analysis.backtest.stats import compute_stats
from core.analysis.replay import iter_replay
from core.domain.config import ConfigError, Settings
from core.domain.events import Event, ReplayHeader
from core.venues.history import funding_caps

Metrics = dict[str, float | int | None]
#: (metrics or None, error or None, wall seconds) of one backtest.
Outcome = tuple[Metrics | None, str | None, float]
#: A time window ``[start_ts_ms, end_ts_ms)`` of the replay, or None for all of it.
Window = tuple[int, int] | None
#: One task: (trial index, overrides, window).
Task = tuple[int, dict[str, Any], Window]

#: A replay of at most this many events is decoded once per worker and kept in memory.
PRELOAD_MAX_EVENTS = 200_000


class ClusterError(ValueError):
    """``--cluster`` names no reachable Ray cluster, or Ray is not installed (message names
    the address)."""


@dataclass(frozen=True, slots=True)
class ReplayData:
    """How a worker finds the replay: a file path, or a buffer (Ray's object store) with a
    key for the worker's cache; ``preload`` keeps the decoded events in the worker."""

    path: str | None
    key: str
    preload: bool


# ------------------------------------------------------------- worker side
_cache: dict[str, tuple[ReplayHeader, list[Event]]] = {}


def _events(data: ReplayData, buffer: Any = None) -> tuple[ReplayHeader, Iterable[Event]]:
    if data.preload and data.key in _cache:
        return _cache[data.key]
    if data.path is not None:
        header, it = iter_replay(data.path, funding_caps())
    else:
        from core.analysis.replay_arrow import iter_arrow

        header, it = iter_arrow(buffer, funding_caps())
    if not data.preload:
        return header, it
    _cache.clear()  # one replay at a time per worker
    _cache[data.key] = (header, list(it))
    return _cache[data.key]


def _in_window(events: Iterable[Event], window: Window) -> Iterator[Event]:
    start, end = window or (0, 0)
    for ev in events:
        if ev.ts_ms < start:
            continue
        if ev.ts_ms >= end:
            return
        yield ev


def run_trial(
    data: ReplayData,
    settings: Settings,
    params: dict[str, Any],
    window: Window = None,
    buffer: Any = None,
) -> Outcome:
    """One backtest of ``settings`` with ``params`` (dotted config keys) on the replay (or the
    events of ``window`` only): (flat metrics, None, wall s), or (None, error, wall s)."""
    t0 = time.perf_counter()
    try:
        run_settings = with_overrides(settings, params, base_raw(settings))
        header, events = _events(data, buffer)
        if window is not None:
            events = _in_window(events, window)
        run = run_events(run_settings, events, header=header)
        return compute_stats(run).row(), None, time.perf_counter() - t0
    except ConfigError as exc:
        return None, str(exc).split(": ", 1)[-1], time.perf_counter() - t0
    except Exception as exc:  # one bad point must not stop the search
        return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0


_worker: dict[str, Any] = {}


def _preload(data: ReplayData) -> None:
    """Decode a replay to keep now (at once, not in the first trial); a bad file is left for
    each trial to report, naming the file and line."""
    if data.preload:
        try:
            _events(data)
        except Exception:
            _cache.clear()


def _init_worker(data: ReplayData, settings: Settings, ready: Any) -> None:
    _worker.update(data=data, settings=settings)
    _end_with_parent()
    _preload(data)  # nothing to do when inherited from the parent (fork)
    ready.put((os.getpid(), time.time(), time.process_time()))


def _end_with_parent() -> None:
    """End this worker when the process that started it dies (a pool's workers would
    otherwise wait for tasks for ever after a SIGKILL of the optimiser)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _noop() -> None:
    """A probe task: submitting one a worker starts every worker at once."""


def _pool_task(index: int, params: dict[str, Any], window: Window) -> tuple[int, Outcome]:
    return index, run_trial(_worker["data"], _worker["settings"], params, window)


def _ray_task(data: ReplayData, buffer: Any, settings: Settings, task: Task) -> tuple[int, Outcome]:
    index, params, window = task
    return index, run_trial(data, settings, params, window, buffer)


# ------------------------------------------------------------- the executors
class Executor(Protocol):
    """Runs tasks and yields ``(index, outcome)`` as each finishes (any order)."""

    name: str
    workers: int

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Outcome]]: ...

    def close(self) -> None: ...


def _local_data(replay: str | Path) -> ReplayData:
    header, _ = iter_replay(replay)
    path = str(Path(replay).resolve())
    return ReplayData(path, path, header.events <= PRELOAD_MAX_EVENTS)


class Serial:
    """Every task in this process, in order (a month's replay decoded once, at once)."""

    name = "serial"
    workers = 1

    def __init__(self, replay: str | Path, settings: Settings) -> None:
        self.data = _local_data(replay)
        self.settings = settings
        _preload(self.data)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Outcome]]:
        for index, params, window in tasks:
            yield index, run_trial(self.data, self.settings, params, window)

    def close(self) -> None:
        _cache.clear()


def threads_running() -> int:
    """Threads of this process, native ones included where the OS tells (Linux)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


#: How long :func:`pool_start_method` waits for threads that are ending (a thread just joined,
#: such as a replay's gunzip reader, stays listed by the OS for a moment after ``join``).
THREADS_ENDING_S = 0.2


def pool_start_method() -> str:
    """How :class:`LocalPool` starts its workers here and now: ``fork`` on Linux while this
    process runs one thread only, else ``forkserver`` where there is one, else ``spawn``
    (module docstring: why)."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods:
        until = time.monotonic() + THREADS_ENDING_S
        while threads_running() > 1 and threading.active_count() == 1:
            if time.monotonic() > until:  # a native thread that stays (numpy's, pyarrow's)
                break
            time.sleep(0.002)
        if threads_running() == 1:
            return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalPool:
    """Worker processes on this machine (``workers`` of them), started at once, a bounded
    number of tasks in flight. ``start_method`` None picks one (:func:`pool_start_method`);
    with ``spawn`` or ``forkserver`` the entry point must sit under
    ``if __name__ == "__main__":``."""

    name = "local pool"

    def __init__(
        self,
        replay: str | Path,
        settings: Settings,
        workers: int,
        start_method: str | None = None,
    ) -> None:
        self.workers = workers
        self.started_at = time.time()
        method = start_method or pool_start_method()
        self.start_method = method
        data = _local_data(replay)
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":  # the server imports these once; its forks inherit them
            ctx.set_forkserver_preload(["__main__", __name__])
        self.forked = method == "fork"
        if self.forked:  # decoded here once, inherited by every worker
            _preload(data)
        self.ready = ctx.SimpleQueue()  # (pid, wall clock, CPU s) as each worker is ready
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(data, settings, self.ready),
        )
        if self.forked:
            gc.freeze()  # the workers' collections leave the inherited objects (and pages) alone
        try:  # one probe a worker: every worker starts now, not at the first trial
            for _ in range(workers):
                self.pool.submit(_noop)
        finally:
            if self.forked:
                gc.unfreeze()

    def startup(self) -> list[tuple[float, float]]:
        """Each worker's (seconds from the start of this pool's creation until it was ready
        for trials, CPU seconds it used by then), in the order they were ready; waits for
        every worker (a figure for benchmarks)."""
        out = []
        for _ in range(self.workers):
            _pid, at, cpu = self.ready.get()
            out.append((at - self.started_at, cpu))
        return out

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Outcome]]:
        todo = iter(tasks)
        running: set[Future[tuple[int, Outcome]]] = set()
        try:
            while True:
                while len(running) < 2 * self.workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    running.add(self.pool.submit(_pool_task, *nxt))
                if not running:
                    return
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
        except BaseException:
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.ready.close()
        if self.forked:
            _cache.clear()


def check_cluster_address(address: str) -> None:
    """Refuse a malformed or unreachable ``--cluster`` at once, naming it: ``auto`` (the
    cluster this machine belongs to, ``ray start --head`` or ``RAY_ADDRESS``), ``local`` (a
    Ray instance started for this run) or ``ray://HOST:PORT`` (Ray client; the port must
    answer within 5 s)."""
    if address in ("auto", "local"):
        return
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "ray" or not parts.hostname or port is None:
        raise ClusterError(
            f"--cluster {address}: expected auto, local or ray://HOST:PORT "
            "(e.g. ray://10.0.0.5:10001)"
        )
    try:
        with socket.create_connection((parts.hostname, port), timeout=5):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ClusterError(
            f"--cluster {address}: no Ray cluster answers at {parts.hostname}:{port} ({why})"
        ) from None


class RayCluster:
    """Tasks on a Ray cluster: ``address`` is ``auto``, ``local`` or ``ray://HOST:PORT``
    (:func:`check_cluster_address`); a Ray already initialised in this process is used as it
    is. The replay's columnar form goes into the object store once."""

    name = "ray"

    def __init__(
        self, replay: str | Path, settings: Settings, address: str, workers: int | None = None
    ) -> None:
        check_cluster_address(address)
        try:
            import numpy as np
            import ray
        except ImportError:
            raise ClusterError(
                f"--cluster {address}: Ray is not installed: pip install 'arbtui[ray]'"
            ) from None
        from core.analysis.replay import convert_replay
        from core.analysis.replay_arrow import is_arrow

        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(f"--cluster {address}: cannot join: {exc}") from None
            self.started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        header, _ = iter_replay(replay)
        if is_arrow(replay):
            raw = Path(replay).read_bytes()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                out = convert_replay(replay, Path(tmp) / "replay.arrow", funding_caps())
                raw = out.read_bytes()
        ref = ray.put(np.frombuffer(raw, dtype=np.uint8))
        del raw
        self.buffer = ref
        self.data = ReplayData(None, ref.hex(), header.events <= PRELOAD_MAX_EVENTS)
        self.settings = ray.put(settings)
        self.remote = ray.remote(num_cpus=1)(_ray_task)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Outcome]]:
        ray = self.ray
        todo = iter(tasks)
        running: list[Any] = []
        while True:
            while len(running) < 2 * self.workers:
                nxt = next(todo, None)
                if nxt is None:
                    break
                running.append(self.remote.remote(self.data, self.buffer, self.settings, nxt))
            if not running:
                return
            finished, running = ray.wait(running, num_returns=1)
            for ref in finished:
                yield ray.get(ref)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_executor(
    replay: str | Path,
    settings: Settings,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    start_method: str | None = None,
) -> Executor:
    """The executor for a search: Ray when ``cluster`` is given, else the local pool with
    ``workers`` processes (default one per core; ``start_method`` None: chosen by
    :func:`pool_start_method`), or this process when that is 1."""
    if cluster:
        return RayCluster(replay, settings, cluster, workers)
    n = workers or default_workers()
    if n == 1:
        return Serial(replay, settings)
    return LocalPool(replay, settings, n, start_method)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every OS
        return max(1, os.cpu_count() or 1)
