"""EngineHost: the engine on its own thread and asyncio loop, beside the console.

DESIGN: the console's loop never carries engine work. Commands cross in through a thread-safe
queue (:meth:`EngineHost.submit` returns at once); the engine publishes an immutable
:class:`~core.domain.snapshot.EngineSnapshot` at UI pace (:data:`SNAPSHOT_EVERY_S`) and right after
every command (before the next batch of events), and readers take the latest with
:meth:`snapshot` (one reference read).

Replay pacing: at ``speed`` x, the replay clock advances ``speed`` sim seconds per wall second
(wall time here only paces the replay; the engine itself sees event time only); ``None`` runs
as fast as possible in batches of :data:`BATCH` events, checking commands between batches, so
a kill switch waits at most one batch (well under 200 ms). The events go through the one
drive loop every mode shares (:class:`core.runtime.drive.Drive`); this module adds the thread,
the commands and the pacing.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.analysis.replay import SPEED_STEPS, ReplayError, iter_replay
from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.errors import EXIT_FAILED
from core.domain.events import Event, InstrumentSpec, ReplayHeader
from core.domain.risk import TradingState
from core.domain.snapshot import EngineSnapshot, FeedView, HistoryView, ReplayView
from core.engine.attention import Attention
from core.engine.engine import Engine
from core.engine.history import History
from core.engine.views import build_snapshot
from core.runtime.drive import Drive
from core.runtime.export import export_audit
from core.runtime.wiring import Observers
from core.venues.history import funding_caps

BATCH = 500
SNAPSHOT_EVERY_S = 0.1
HISTORY_EVERY_S = 1.0
"""The charts' history is handed to the snapshot at most this often (it changes hourly)."""
IDLE_S = 0.01
CONSOLE_HOLD_S = 0.1
HELD_POLL_S = 0.002
"""While held, the engine thread looks for commands this often."""
"""How long a replay's next events wait while the console answers a key (see
:meth:`EngineHost.hold_replay`)."""


class EngineHost:
    """Runs an :class:`Engine` on a daemon thread. Build with :meth:`for_replay`.

    ``tasks`` are coroutine factories started on the engine's loop (live feeds, order
    routers); they feed events with :meth:`feed` and are cancelled at stop. Without replay
    events (``events=None``) the host runs until stopped. ``header`` (a replay's) adds its
    notes as alerts; ``source`` names the replay file in them (:class:`Drive`).
    """

    def __init__(
        self,
        engine: Engine,
        events: Iterator[Event] | None = None,
        *,
        events_total: int = 0,
        speed: float | None = None,
        pause_at_ts_ms: int | None = None,
        tasks: Sequence[Callable[[EngineHost], Coroutine[Any, Any, None]]] = (),
        run_id: str = "run",
        header: ReplayHeader | None = None,
        source: str | None = None,
    ) -> None:
        self.engine = engine
        self._replaying = events is not None
        self._events_total = events_total
        self.speed = speed
        self.pause_at_ts_ms = pause_at_ts_ms
        self.paused = False
        self.finished = events is None
        self.error: str | None = None
        self.failed = ""
        """``replay failed at FILE:LINE: reason`` once a replay stopped on a bad line."""
        self.exit_code = 0
        """What the process should exit with after this run: 2 when the replay stopped on a
        bad line (bad input), 1 when the engine died, else 0."""
        self.feed_views: Callable[[], tuple[FeedView, ...]] = lambda: ()
        """Live feed streams for the snapshot (set by a paper/live session)."""
        self.add_pair: Callable[[cmd.AddPair], Coroutine[Any, Any, None]] | None = None
        """Set by a paper or live session: carries out an
        :class:`~core.domain.commands.AddPair` on the engine's loop (specs from the venues,
        then the engine, then the feeds' subscriptions). None: the engine answers it alone
        (a replay refuses it)."""
        self.live_add: Callable[[list[InstrumentSpec]], Coroutine[Any, Any, str | None]] | None = (
            None
        )
        """Set by a live session once its order path is connected
        (:func:`core.runtime.live_add.admit` on its router and venues): checks the instruments
        of a pair added at run time at their venues and teaches them to the order path;
        returns why not (None: done). None: a live session refuses to add pairs."""
        self._side: set[asyncio.Task[None]] = set()
        self._commands: queue.SimpleQueue[cmd.Command] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sim_anchor: int | None = None
        self._wall_anchor = 0.0
        self._hold_until = 0.0
        self._tasks = list(tasks)
        self._drive = Drive(engine, events, header=header, run_id=run_id, source=source)
        self.attention = Attention()
        """What needs the operator now (the banner's facts)."""
        engine.recorders.append(self.attention)
        self.history = History(engine)
        """The hourly history the charts draw (bounded)."""
        self._history_view: HistoryView | None = None
        self._history_at = 0.0
        self._snap = build_snapshot(engine, self._replay_view())

    @classmethod
    def for_replay(
        cls,
        settings: Settings,
        path: str | Path,
        *,
        pause_at_ts_ms: int | None = None,
        speed: float | None = -1.0,
    ) -> EngineHost:
        """A host replaying ``path``. ``speed`` defaults to ``settings.replay.speed`` (0 =
        as fast as possible); with ``pause_at_ts_ms`` the replay runs as fast as possible to
        that instant and pauses there. Raises :class:`core.analysis.replay.ReplayError`."""
        header, events = iter_replay(path, funding_caps())
        engine = Engine(settings, mode="replay")
        if speed is not None and speed < 0:
            speed = settings.replay.speed or None
        return cls(
            engine,
            events,
            events_total=header.events,
            speed=speed,
            pause_at_ts_ms=pause_at_ts_ms,
            run_id=f"replay-{Path(path).name}",
            header=header,
            source=str(path),
        )

    # ------------------------------------------------------------ public API
    def start(self) -> None:
        """Start the engine thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="arbtui-engine", daemon=True)
            self._thread.start()

    def submit(self, command: cmd.Command) -> None:
        """Queue a command for the engine thread; returns at once (thread-safe). An
        :class:`~core.domain.commands.ExportAudit` runs on a worker thread instead."""
        if isinstance(command, cmd.ExportAudit):
            threading.Thread(
                target=export_audit,
                args=(self._drive.observers.audit, command),
                name="arbtui-export",
                daemon=True,
            ).start()
            return
        self._commands.put(command)

    def hold_replay(self, seconds: float = CONSOLE_HOLD_S) -> None:
        """The console is answering a key: a replay's next events wait up to ``seconds``
        (thread-safe), so the console's thread is not sharing the interpreter with a replay
        running flat out while it draws the answer. Commands are still handled at once (a
        kill never waits on this), and a live session's events never wait."""
        self._hold_until = time.monotonic() + seconds

    def release_replay(self) -> None:
        """End a :meth:`hold_replay` early (the console has drawn its frame)."""
        self._hold_until = 0.0

    @property
    def observers(self) -> Observers:
        """The run's observers (audit log, metrics)."""
        return self._drive.observers

    def report(self) -> dict[str, Any]:
        """The run's report so far (:meth:`core.runtime.drive.Drive.report`; read it once the
        engine has stopped or finished: it reads the engine's state)."""
        return self._drive.report()

    def snapshot(self) -> EngineSnapshot:
        """The latest published snapshot (immutable)."""
        return self._snap

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the engine thread and wait up to ``timeout_s`` for it."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """True while the engine thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------------- internals
    def _replay_view(self) -> ReplayView | None:
        if not self._replaying:
            return None
        done = self._drive.done
        return ReplayView(
            done,
            max(self._events_total, done),
            self.speed,
            self.paused,
            self.finished,
            self.failed,
        )

    def _publish(self) -> None:
        feeds = self.feed_views()
        alarms = self.attention.alarms(self.engine, feeds, self.failed)
        now = time.monotonic()
        # a replay flat out adds hours by the hundred a second: the charts' view (thousands of
        # points) is rebuilt at most HISTORY_EVERY_S, and always once the replay is over
        if (
            self._history_view is None
            or now - self._history_at >= HISTORY_EVERY_S
            or (self.finished or self.paused)
        ):
            self._history_view, self._history_at = self.history.view(), now
        self._snap = build_snapshot(
            self.engine, self._replay_view(), feeds, alarms, self._history_view
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # the engine died: say so on screen, never silently
            self._died(exc)

    def _died(self, exc: Exception) -> None:
        if isinstance(exc, ReplayError):
            self._replay_failed(exc)
            return
        self.error = self._drive.record_failure("engine stopped", exc)
        self.exit_code = max(self.exit_code, EXIT_FAILED)
        # the banner and the status line say it; the state is HALTED, never a finished ARMED
        self.failed = f"engine stopped: {type(exc).__name__}: {exc}"
        try:
            self.engine.set_state(TradingState.HALTED, "engine stopped")
        except Exception:  # the engine is broken: the banner still says so
            pass
        self.finished = True
        self._publish()

    def _replay_failed(self, exc: ReplayError) -> None:
        """A bad line or a cut file: say where and why, stop the engine visibly (HALTED), and
        leave the exit code for after quit (2: bad input)."""
        if exc.file is None:
            self.failed = f"replay failed: {exc}"
        else:
            where = f"{exc.file}:{exc.line}" if exc.line is not None else exc.file
            self.failed = f"replay failed at {where}: {str(exc).removeprefix(f'{where}: ')}"
        self.error = self._drive.record_failure("replay stopped", exc)
        self.engine.set_state(TradingState.HALTED, "replay stopped on a bad line")
        self.exit_code = exc.exit_code
        self.finished = True
        self._publish()

    def feed(self, ev: Event) -> None:
        """Apply one live event (call from a task running on the engine loop)."""
        self._drive.step(ev)
        self.history.after(ev)

    async def _main(self) -> None:
        background = [asyncio.create_task(factory(self)) for factory in self._tasks]
        try:
            await self._loop()
        except Exception as exc:  # the engine died: record it while the audit log is open
            self._died(exc)
        finally:
            for task in [*background, *self._side]:
                task.cancel()
            await asyncio.gather(*background, *self._side, return_exceptions=True)
            self._drive.close(  # a closer that fails is an alert; the others still close
                lambda close, exc: self.engine.alert(f"closing {close!r} failed: {exc}")
            )

    async def _loop(self) -> None:
        last_pub = 0.0
        while not self._stop.is_set():
            changed = self._drain_commands()
            if changed:  # the operator sees a command's effect before the next batch runs
                self._publish()
                last_pub = time.monotonic()
            now = time.monotonic()
            held = now < self._hold_until
            if not self._stop.is_set() and not self.finished and not self.paused and not held:
                changed = self._advance() or changed
                now = time.monotonic()
            if changed or now - last_pub >= SNAPSHOT_EVERY_S:
                self._publish()
                last_pub = now
            busy = self.speed is None and not self.paused and not self.finished
            await asyncio.sleep(HELD_POLL_S if held else 0 if busy else IDLE_S)
        self._publish()

    def _drain_commands(self) -> bool:
        seen = False
        while True:
            try:
                c = self._commands.get_nowait()
            except queue.Empty:
                return seen
            seen = True
            if isinstance(c, cmd.Shutdown):
                self._stop.set()
            elif isinstance(c, cmd.ReplayTogglePause):
                self.paused = not self.paused
                self._sim_anchor = None
            elif isinstance(c, cmd.ReplaySpeed):
                self._step_speed(c.step)
            elif isinstance(c, cmd.AddPair) and self.add_pair is not None:
                task = asyncio.get_running_loop().create_task(self.add_pair(c))
                self._side.add(task)
                task.add_done_callback(self._side_done)
            else:
                self.engine.handle(c)

    def _side_done(self, task: asyncio.Task[None]) -> None:
        self._side.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.engine.alert(f"adding a pair failed: {type(exc).__name__}: {exc}")

    def _step_speed(self, step: int) -> None:
        steps = list(SPEED_STEPS)
        i = steps.index(self.speed) if self.speed in steps else 4
        self.speed = steps[max(0, min(len(steps) - 1, i + step))]
        self._sim_anchor = None

    def _advance(self) -> bool:
        """Process the events due now; True if any was processed."""
        drive = self._drive
        until: int | None = self.pause_at_ts_ms
        if self.speed is not None and until is None:
            wall = time.monotonic()
            if self._sim_anchor is None:
                first = drive.peek()
                start = first.ts_ms if first is not None else 0
                self._sim_anchor, self._wall_anchor = self.engine.now or start, wall
            until = self._sim_anchor + int((wall - self._wall_anchor) * self.speed * 1000)
        n = drive.advance(BATCH, until, self.history.after)
        if drive.finished:
            self.finished = True
            self.engine.emit("state", "replay finished")
        elif (
            self.pause_at_ts_ms is not None
            and drive.pending is not None
            and drive.pending.ts_ms > self.pause_at_ts_ms
        ):
            self.paused = True  # the next event is past the pause instant
            self.pause_at_ts_ms = None
        return n > 0 or self.finished
