"""EngineHost: the engine on its own thread; commands in, snapshots out."""

from __future__ import annotations

import time
from collections.abc import Iterator

from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.events import Event
from core.domain.risk import TradingState
from core.runtime.host import EngineHost
from tests.conftest import SHIPPED_REPLAY, eventually
from tests.helpers import ts


def test_pause_at_stops_the_replay_at_that_instant(settings: Settings) -> None:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, pause_at_ts_ms=ts("2020-03-13T02:00"))
    host.start()
    try:
        eventually(lambda: host.snapshot().replay is not None and host.snapshot().replay.paused)  # type: ignore[union-attr]
        snap = host.snapshot()
        assert snap.ts_ms <= ts("2020-03-13T02:00")
        assert snap.ts_ms > ts("2020-03-13T01:58")
        assert snap.exposure_open
        assert snap.pairs[0].status == "open"
        assert {leg.venue for leg in snap.legs} == {"binance", "bitmex"}
        time.sleep(0.2)
        assert host.snapshot().ts_ms == snap.ts_ms  # stays put while paused
    finally:
        host.stop()


def test_kill_switch_acts_within_200ms_while_the_replay_runs_flat_out(settings: Settings) -> None:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=None)
    host.start()
    try:
        eventually(lambda: host.snapshot().exposure_open, timeout_s=20)
        t0 = time.perf_counter()
        host.submit(cmd.Kill(source="test"))
        eventually(
            lambda: host.snapshot().risk.trading_state == "HALTED", timeout_s=2, every_s=0.001
        )
        took = time.perf_counter() - t0
        assert took < 0.2
        snap = host.snapshot()
        assert not snap.exposure_open
        assert any(e.kind == "state" and "kill switch" in e.text for e in snap.log)
    finally:
        host.stop()


def test_replay_speed_steps_and_pause_toggle(settings: Settings) -> None:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=3600)
    host.start()
    try:
        host.submit(cmd.ReplaySpeed(step=+1))
        eventually(lambda: host.snapshot().replay.speed == 14400)  # type: ignore[union-attr]
        host.submit(cmd.ReplaySpeed(step=-1))
        host.submit(cmd.ReplaySpeed(step=-1))
        eventually(lambda: host.snapshot().replay.speed == 600)  # type: ignore[union-attr]
        host.submit(cmd.ReplayTogglePause())
        eventually(lambda: host.snapshot().replay.paused)  # type: ignore[union-attr]
        done = host.snapshot().replay.events_done  # type: ignore[union-attr]
        time.sleep(0.2)
        assert host.snapshot().replay.events_done == done  # type: ignore[union-attr]
    finally:
        host.stop()


def test_a_paced_replay_advances_sim_time_at_the_set_speed(settings: Settings) -> None:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=3600)
    host.start()
    try:
        eventually(lambda: host.snapshot().ts_ms > 0)
        t0, sim0 = time.monotonic(), host.snapshot().ts_ms
        time.sleep(1.0)
        sim_hours = (host.snapshot().ts_ms - sim0) / 3_600_000
        wall = time.monotonic() - t0
        assert 0.6 * wall < sim_hours < 1.4 * wall + 0.1  # about one sim hour per wall second
    finally:
        host.stop()


def test_shutdown_stops_the_thread_quickly(settings: Settings) -> None:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=None)
    host.start()
    eventually(lambda: host.running)
    t0 = time.perf_counter()
    host.submit(cmd.Shutdown())
    host.stop(timeout_s=2.0)
    assert not host.running
    assert time.perf_counter() - t0 < 0.5


def test_a_console_hold_stops_replay_events_but_not_commands(settings: Settings) -> None:
    """``hold_replay``: while the console draws a key's answer, the replay's events wait; a
    command sent during the hold (a kill) is handled at once."""
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, speed=None)
    host.start()
    try:
        eventually(lambda: host.snapshot().exposure_open, timeout_s=20)
        host.hold_replay(3.0)

        def done() -> int:
            return host.snapshot().replay.events_done  # type: ignore[union-attr]

        seen = [-1]

        def settled() -> bool:  # the batch in hand when the hold began is finished
            before, seen[0] = seen[0], done()
            return before == seen[0]

        eventually(settled, every_s=0.1)
        held_at = seen[0]
        host.submit(cmd.Kill(source="test"))
        eventually(lambda: host.snapshot().risk.trading_state == "HALTED", every_s=0.001)
        snap = host.snapshot()
        assert not snap.exposure_open
        assert snap.replay is not None and snap.replay.events_done == held_at  # still held
        eventually(lambda: done() > held_at, timeout_s=6)
    finally:
        host.stop()


def test_an_engine_that_dies_is_halted_and_says_why(settings: Settings) -> None:
    """Whatever stops the engine thread (here its event source raising mid-run), the state is
    HALTED and the banner's message says so, never a replay that "finished" ARMED."""
    from core.analysis.replay import load_replay
    from core.engine.engine import Engine

    header, events = load_replay(SHIPPED_REPLAY)

    def source() -> Iterator[Event]:
        yield from events[:2000]
        raise ValueError("math domain error")

    engine = Engine(settings, mode="replay")
    engine.set_state(TradingState.ARMED, "test")
    host = EngineHost(engine, source(), events_total=len(events), header=header)
    host.start()
    try:
        eventually(lambda: host.finished)
        snap = host.snapshot()
        assert snap.risk.trading_state == "HALTED"
        assert host.failed == "engine stopped: ValueError: math domain error"
        assert host.exit_code == 1
        assert any("engine stopped" in a.text for a in snap.alarms)
    finally:
        host.stop()
