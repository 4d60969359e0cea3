"""The one loop that drives events through the engine, for every mode.

A :class:`Drive` owns one run of one :class:`~core.engine.engine.Engine`: it attaches the run's
observers (:func:`core.runtime.wiring.attach_observers`), posts the replay header's notes,
applies events in order, one instant (every event of one ``ts_ms``) at a time
(:meth:`Drive.advance`; a live event is an instant of its own, :meth:`Drive.step`), records a
failure with its traceback while the audit log is still open, closes the observers and builds
the report. The headless replay (:func:`core.runtime.headless.run_replay`) and the backtest
(:func:`core.analysis.backtest.runner.run_events`) run it to the end in one call; the console's
:class:`~core.runtime.host.EngineHost` calls :meth:`Drive.advance` in batches between commands
and paces it against the wall clock.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.analysis.report import build_report
from core.domain.config import Settings
from core.domain.errors import BadInput
from core.domain.events import Event, InstrumentSpec, ReplayHeader
from core.engine.engine import Engine
from core.runtime.wiring import Closer, Observers, attach_observers

#: Alerts kept in a report (the last ones).
REPORT_ALERTS = 50


class ReplayConfigMismatch(BadInput):
    """No configured pair can trade the replay: the config is not the replay's."""


def check_header(engine: Engine, header: ReplayHeader) -> list[str]:
    """Warnings for instruments the replay and the config disagree on (the config's specs
    are the ones traded; a pair whose legs are absent from the replay will never trade).
    Raises :class:`ReplayConfigMismatch` when no pair can trade at all (a replay run with
    another file's config would otherwise play to the end and report nothing)."""
    notes = []
    in_file: dict[tuple[str, str], InstrumentSpec] = {
        (s.venue, s.symbol): s for s in header.instruments
    }
    for key, spec in engine.specs.items():
        other = in_file.get(key)
        if other is not None and other != spec:
            notes.append(f"{key[0]} {key[1]}: the replay's contract spec differs from the config's")
    missing: list[str] = []
    for pr in engine.pairs:
        for key in (pr.key_a, pr.key_b):
            if key not in in_file:
                missing.append(f"pair {pr.cfg.name} needs {key[0]} {key[1]}")
                notes.append(
                    f"pair {pr.cfg.name}: {key[0]} {key[1]} is not in this replay "
                    "(replays/README.md names the config each shipped file runs with)"
                )
    traded = {p for p in engine.pairs if (p.key_a in in_file and p.key_b in in_file)}
    if engine.pairs and not traded:
        holds = ", ".join(f"{s.venue} {s.symbol}" for s in header.instruments) or "nothing"
        raise ReplayConfigMismatch(
            f"no configured pair can trade this replay ({'; '.join(missing)}; it holds "
            f"{holds}): run it with the config it was built for (--config FILE; "
            "replays/README.md names each shipped file's)"
        )
    return notes


class Drive:
    """One run: ``engine`` fed from ``events`` (``None`` for a live run fed by its tasks).

    ``observers`` attaches the audit log, file log and metrics (the optimiser runs without);
    ``header`` adds its notes as alerts (after the observers, so they are recorded).
    ``source`` names the replay file in the alert said once at the end of a replay for each
    instrument the config does not name (a recording may hold more instruments than a config
    trades: their events reach no pair): ``FILE: events of binance ETHUSDT trade in no
    configured pair: ignored (N events)``. Close with :meth:`close` (or use the drive as a
    context manager).
    """

    def __init__(
        self,
        engine: Engine,
        events: Iterable[Event] | None = None,
        *,
        header: ReplayHeader | None = None,
        run_id: str = "run",
        observers: bool = True,
        source: str | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        """The replay file's name, for the alerts of :meth:`_note_unlisted`."""
        if events is not None:  # counted at no cost to the configured instruments' events
            engine.market.count_unlisted(engine.specs)
        self.events: Iterator[Event] | None = None if events is None else iter(events)
        self.pending: Event | None = None
        """The next event, read but not yet applied (see :meth:`peek`)."""
        self.done = 0
        """Events applied so far."""
        self.finished = events is None
        """True once every event was applied (a live run has none to apply)."""
        self.wall_s = 0.0
        """Wall seconds spent in :meth:`run` (the engine alone, for the events/s figure)."""
        self.strategy_curve: list[tuple[int, float]] = []
        """(ts_ms, start equity + strategy PnL, USD) after each instant that took an hourly
        equity point: the strategy's curve without the collateral's revaluation (its Sharpe
        is the report's ``sharpe_strategy``)."""
        self.observers = attach_observers(engine, run_id=run_id) if observers else Observers()
        """The run's observers (audit, metrics), handed to whoever needs one."""
        self.closers: list[Closer] = list(self.observers.closers)
        if header is not None:
            try:
                for note in check_header(engine, header):
                    engine.alert(note)
            except BaseException:
                self.close()
                raise

    @classmethod
    def replay(
        cls,
        settings: Settings,
        events: Iterable[Event],
        *,
        header: ReplayHeader | None = None,
        run_id: str = "replay",
        observers: bool = True,
        source: str | None = None,
    ) -> Drive:
        """A fresh replay-mode engine over ``events`` (``source``: its file, see :class:`Drive`)."""
        engine = Engine(settings, mode="replay")
        return cls(engine, events, header=header, run_id=run_id, observers=observers, source=source)

    # ------------------------------------------------------------------ stepping
    def step(self, ev: Event) -> None:
        """Apply one event (replay or live) to the engine."""
        self.engine.on_event(ev)
        self.done += 1

    def peek(self) -> Event | None:
        """The next event without applying it; ``None`` at the end (or for a live run)."""
        if self.pending is None and self.events is not None:
            self.pending = next(self.events, None)
        return self.pending

    def advance(
        self,
        max_events: int | None = None,
        until_ts_ms: int | None = None,
        after: Callable[[Event], None] | None = None,
        after_hour: Callable[[Event], None] | None = None,
    ) -> int:
        """Apply the next instants in order (one instant = every event of one ``ts_ms``, all
        venues and kinds, handed to :meth:`Engine.on_instant` together: one instant, one
        state), at least ``max_events`` events' worth unless the file ends first (an instant
        is never split, so a batch may run over), and none later than ``until_ts_ms`` (the
        first such event stays :attr:`pending`). ``after(ev)`` runs once after each instant,
        with its last event (every event of an instant has its ``ts_ms``); ``after_hour(ev)``
        the same, but only after an instant in which the engine's ``equity_curve`` took a
        point (once an hour of event time: no call an instant for a sampler that needs only
        those). Returns how many events were applied; sets :attr:`finished` at the end."""
        if self.events is None or self.finished:
            return 0
        events = self.events
        engine = self.engine
        on_instant = engine.on_instant
        limit = (1 << 62) if max_events is None else max_events
        until = (1 << 62) if until_ts_ms is None else until_ts_ms
        pending = self.pending  # kept in a local while the loop runs, in self.pending after
        curve = engine.equity_curve
        points = len(curve)
        strategy, strategy_pnl = self.strategy_curve, engine.strategy_pnl_usd
        n = 0
        try:
            while n < limit:
                ev = pending if pending is not None else next(events, None)
                if ev is None:
                    self.finished = True
                    break
                if ev.ts_ms > until:
                    pending = ev
                    break
                batch = [ev]
                ts = ev.ts_ms
                for pending in events:  # the rest of this instant, and the first event after it
                    if pending.ts_ms != ts:
                        break
                    batch.append(pending)
                else:
                    pending = None
                on_instant(batch)
                n += len(batch)
                if after is not None:
                    after(batch[-1])
                if len(curve) != points:  # an hourly equity point: the strategy's too
                    points = len(curve)
                    strategy.append((ts, (engine.start_equity_usd or 0.0) + strategy_pnl()))
                    if after_hour is not None:
                        after_hour(batch[-1])
                if pending is None:
                    self.finished = True
                    break
        finally:
            self.pending = pending
            self.done += n
        if self.finished:
            self._note_unlisted()
        return n

    def _note_unlisted(self) -> None:
        """At the end of a replay, one alert for each instrument whose events reached no pair
        because the config does not name it, with their number."""
        where = f"{self.source}: " if self.source else ""
        for (venue, symbol), n in self.engine.market.unlisted.items():
            self.engine.alert(
                f"{where}events of {venue} {symbol} trade in no configured pair: ignored "
                f"({n} event{'' if n == 1 else 's'})"
            )

    def run(
        self,
        after: Callable[[Event], None] | None = None,
        after_hour: Callable[[Event], None] | None = None,
    ) -> None:
        """Apply every event (timed in :attr:`wall_s`; ``after``, ``after_hour`` as in
        :meth:`advance`); a failure is recorded in the engine's log with its traceback (while
        the audit log is open) and raised again."""
        try:
            t0 = time.perf_counter()
            self.advance(after=after, after_hour=after_hour)
            self.wall_s += time.perf_counter() - t0
        except Exception as exc:
            self.record_failure("replay stopped", exc)
            raise

    def record_failure(self, what: str, exc: BaseException) -> str:
        """Log ``exc`` as an engine error, with its traceback; returns its one-line text."""
        text = f"{type(exc).__name__}: {exc}"
        self.engine.error(f"{what}: {text}", traceback.format_exc())
        return text

    # ------------------------------------------------------------------- the end
    def close(self, on_error: Callable[[Closer, Exception], None] | None = None) -> None:
        """Close the observers, in order, once. A closer that fails goes to ``on_error``
        (the others are still closed); without it, the first failure is raised at the end."""
        closers, self.closers = self.closers, []
        first: Exception | None = None
        for close in closers:
            try:
                close()
            except Exception as exc:
                if on_error is None:
                    first = first or exc
                else:
                    on_error(close, exc)
        if first is not None:
            raise first

    def __enter__(self) -> Drive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def report(self) -> dict[str, Any]:
        """The run's report (:func:`core.analysis.report.build_report`) with its last alerts."""
        report = build_report(self.engine, self.wall_s, self.strategy_curve)
        alerts = [e for e in self.engine.log if e.kind == "alert"][-REPORT_ALERTS:]
        report["alerts"] = [e.text for e in alerts]
        if alerts:  # when each was raised (UTC ms of the event), for the text report
            report["alert_ts_ms"] = [e.ts_ms for e in alerts]
        return report
