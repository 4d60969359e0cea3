"""The one drive loop: console, headless and backtest give the same run of the same replay."""

from __future__ import annotations

from typing import Any

from core.analysis.backtest.runner import run_file
from core.analysis.replay import load_replay
from core.domain.config import Settings
from core.runtime.drive import Drive
from core.runtime.headless import run_replay
from core.runtime.host import EngineHost
from tests.conftest import SHIPPED_REPLAY, eventually

TIMING = ("wall_s", "events_per_s")


def _untimed(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in TIMING}


def test_headless_backtest_and_console_drive_the_same_run(settings: Settings) -> None:
    headless = _untimed(run_replay(settings, SHIPPED_REPLAY))
    backtest = run_file(settings, SHIPPED_REPLAY, observers=True)
    assert _untimed(backtest.report) == headless
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=None)
    host.start()
    try:
        eventually(lambda: host.finished, timeout_s=60)
    finally:
        host.stop()
    console = _untimed(host.report())
    assert console == headless
    assert host.snapshot().replay.events_done == headless["events"]  # type: ignore[union-attr]


def test_advance_stops_at_a_count_or_before_an_instant_keeping_the_next_event(
    settings: Settings,
) -> None:
    header, events = load_replay(SHIPPED_REPLAY)
    drive = Drive.replay(settings, events, header=header, observers=False)
    assert drive.advance(max_events=10) == 10 and drive.pending is events[10]
    assert (events[9].ts_ms, events[10].ts_ms) == (1583021339999, 1583021399999)
    until = events[99].ts_ms
    n = drive.advance(until_ts_ms=until)
    assert drive.engine.now <= until and drive.pending is not None
    assert drive.pending.ts_ms > until and drive.done == 10 + n
    assert drive.peek() is drive.pending
    drive.run()
    assert drive.finished and drive.done == len(events)
    assert drive.engine.events == len(events)
    assert drive.advance() == 0
    drive.close()


def test_an_instant_is_never_split_between_batches(settings: Settings) -> None:
    """A batch that would end inside an instant takes the rest of it: the engine never
    decides between two events of one ``ts_ms`` (one instant, one state)."""
    header, events = load_replay(SHIPPED_REPLAY)
    second = next(i for i in range(1, len(events)) if events[i].ts_ms == events[i - 1].ts_ms)
    assert (second, events[second].ts_ms) == (61, 1583024399999)  # 00:59:59.999, both bars
    with Drive.replay(settings, events, header=header, observers=False) as drive:
        assert drive.advance(max_events=second) == second + 1
        assert drive.pending is events[second + 1]
        assert drive.engine.now == events[second].ts_ms


def test_after_hour_runs_after_each_instant_that_took_an_equity_point(
    settings: Settings,
) -> None:
    """``after_hour`` (the backtest's curve sampler) runs once after each instant in which the
    equity curve took its hourly point, with that instant's last event; ``after`` after
    every instant. Across batches too (the console's ``advance`` in slices)."""
    header, events = load_replay(SHIPPED_REPLAY)
    hours: list[tuple[int, int]] = []
    instants: list[int] = []
    with Drive.replay(settings, events, header=header, observers=False) as drive:
        curve = drive.engine.equity_curve

        def at_hour(ev: Any) -> None:
            hours.append((ev.ts_ms, len(curve)))

        while not drive.finished:
            drive.advance(max_events=1000, after=lambda ev: instants.append(ev.ts_ms),
                          after_hour=at_hour)  # fmt: skip
    assert len(hours) == len(curve) == 552
    assert [ts for ts, _ in hours] == [ts for ts, _ in curve]
    assert [n for _, n in hours] == list(range(1, 553))
    # each hour's first priced instant: 00:00:59.999 (the 00:00 settlement came before any
    # price: no equity yet), 01:00:59.999, ..., the last at 2020-03-23T23:00:59.999Z
    assert hours[:2] == [(1583020859999, 1), (1583024459999, 2)]
    assert hours[-1] == (1585004459999, 552)
    assert len(instants) == len({ev.ts_ms for ev in events}) == 33_258
