"""Console speed (issue 13, Speed): the console in a headless Textual terminal (``run_test``)
over a real engine host replaying flat out, with ``gc.freeze()``, the short thread switch
interval and the collector thresholds that ``tui/console.py`` sets.

The replay is the largest shipped file (March 2020, 33,879 events: 0.3 s flat out) played
:data:`LOOPS` times back to back, each copy shifted by its 23 days (written to a temporary
file, removed at the end), with the drawdown limit out of reach so that the engine stays
ARMED; config ``configs/binance_bitmex_2020.toml``. Prints:

- key to screen, p50/p99: ``p`` pressed (pause or resume: the engine's state changes) until
  the status line shows the new state (PAUSED, then ARMED again); ``v`` (a view switch, no
  engine round trip) until the other view is on screen; keys 0.15-0.35 s apart (a person's
  pace). Target p99 <= 100 ms.
- kill confirm to HALTED, p50/p99: ``ctrl+k`` asks (inline, on the main screen); from the
  confirming key (``y``) until the status line shows HALTED. Target p99 <= 250 ms. Each kill
  runs on a fresh host replaying flat out.
- the console's CPU (process time minus the engine thread's) while the replay runs at
  14400x, the console applying each snapshot (about 8 a second, every figure changing): an
  approximation of the issue's "10 updates a second, 3,000 cell changes a second";
- memory (RSS) after each of 10 flat-out replays of the looped file in a row, one host after
  another, with the console drawing each (flat = no growth after the first ones).

"On screen" here is the widget's content after the app has handled the key and applied the
snapshot (the status line's text); a real terminal adds the write to the pty. On a shared
2-core machine the tails follow the machine's load: print ``uptime`` beside the figures.

    .venv/bin/python bench/console_bench.py [--presses N] [--kills N] [--only keys|kill|cpu|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from core.domain.config import Settings, load_config  # noqa: E402
from core.runtime.host import EngineHost  # noqa: E402
from tui.app import ArbConsole  # noqa: E402
from tui.console import GC_THRESHOLDS, SWITCH_INTERVAL_S  # noqa: E402
from tui.widgets import StatusLine  # noqa: E402

SOURCE = ROOT / "replays" / "btc_2020-03.jsonl.gz"
"""The largest shipped replay (33,879 one-minute bars and funding rows: 0.3 s flat out)."""
CONFIG = ROOT / "configs" / "binance_bitmex_2020.toml"
DEFAULT_REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
LOOPS = 30
"""The source replayed this many times back to back (each shifted by its 23 days), so that a
flat-out replay lasts long enough to measure keys against (about 10 s each)."""
LATE = 33_879 * (LOOPS - 1)
"""Measurements stop once the replay is this far (it must still run flat out)."""
SIZE = (120, 40)
GAP_S = (0.15, 0.35)
"""Pause between two measured keys, drawn at random (a person's pace; off the refresh
tick's phase)."""
KEY_TARGET_MS = 100.0
KILL_TARGET_MS = 250.0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def show(name: str, lat: list[float], target: float) -> None:
    p99 = pct(lat, 0.99)
    ok = "ok" if p99 <= target else "OVER TARGET"
    print(
        f"{name:<44} p50 {statistics.median(lat):6.1f} ms  p99 {p99:6.1f} ms  "
        f"max {max(lat):6.1f} ms  (n={len(lat)}, target p99 <= {target:.0f} ms)  {ok}"
    )


def status_shows(app: ArbConsole, word: str) -> bool:
    """True once the status line's drawn text holds ``word``."""
    return f" {word} " in str(app.query_one(StatusLine).render())


def shows(app: ArbConsole, word: str) -> Callable[[], bool]:
    """A condition: the status line shows ``word``."""
    return lambda: status_shows(app, word)


def in_view(app: ArbConsole, view: str) -> Callable[[], bool]:
    """A condition: ``view`` is on screen."""
    return lambda: app.current_view == view


async def timed(pilot: Pilot[int], key: str, reached: Callable[[], bool]) -> float:
    """Milliseconds from ``key`` to ``reached()``, polling every 1 ms on the app's loop."""
    app = pilot.app
    assert isinstance(app, ArbConsole)
    t0 = time.perf_counter()
    task = asyncio.ensure_future(pilot.press(key))
    try:
        while not reached():
            if time.perf_counter() - t0 > 5.0:
                snap = app.host.snapshot()
                raise TimeoutError(
                    f"not on screen within 5 s: {app.query_one(StatusLine).render()!s} "
                    f"(engine: {snap.risk.trading_state if snap else None}, applied {app.applied})"
                )
            await asyncio.sleep(0.001)
        return (time.perf_counter() - t0) * 1000
    finally:
        await task


def looped_replay(out: Path, loops: int = LOOPS) -> Path:
    """``SOURCE`` ``loops`` times in a row, each copy's times shifted by the file's span."""
    lines = gzip.open(SOURCE).read().splitlines()
    header = json.loads(lines[0])
    span = header["end_ts_ms"] - header["start_ts_ms"]
    events = [json.loads(line) for line in lines[1:] if line.strip()]
    header["events"] = len(events) * loops
    header["end_ts_ms"] = header["start_ts_ms"] + span * loops
    with open(out, "w") as fh:
        fh.write(json.dumps(header) + "\n")
        for k in range(loops):
            shift = span * k
            for ev in events:
                moved = dict(ev)
                for key, value in ev.items():
                    if key.endswith("ts_ms") and isinstance(value, int):
                        moved[key] = value + shift
                    elif key == "raw_ts" and isinstance(value, str) and value.isdigit():
                        moved[key] = str(int(value) + shift)
                fh.write(json.dumps(moved) + "\n")
    return out


REPLAY = SOURCE
"""The replay the hosts run (``main`` sets it to the looped file)."""


def host_for(settings: Settings, speed: float | None) -> EngineHost:
    host = EngineHost.for_replay(settings, REPLAY, speed=speed)
    host.start()
    return host


async def keys(settings: Settings, presses: int) -> tuple[list[float], list[float]]:
    """``p`` and ``v`` while the replay runs flat out (a fresh host when one ends)."""
    pause: list[float] = []
    view: list[float] = []
    sessions = 0
    while len(view) < presses:
        sessions += 1
        if sessions > 3 * presses:
            raise RuntimeError("the replay ends before a key can be measured")
        print(f"  keys: session {sessions}, {len(view)}/{presses}", file=sys.stderr, flush=True)
        host = host_for(settings, None)
        app = ArbConsole(host, settings)
        try:
            async with app.run_test(size=SIZE) as pilot:
                while not status_shows(app, "ARMED"):
                    await asyncio.sleep(0.01)
                for key in ("v", "v"):  # the first draws of each view: not measured
                    await pilot.press(key)
                await asyncio.sleep(0.2)
                while len(view) < presses and host.snapshot().replay.events_done < LATE:
                    pause.append(await timed(pilot, "p", shows(app, "PAUSED")))
                    await asyncio.sleep(random.uniform(*GAP_S))
                    pause.append(await timed(pilot, "p", shows(app, "ARMED")))
                    await asyncio.sleep(random.uniform(*GAP_S))
                    want = "detail" if app.current_view == "main" else "main"
                    view.append(await timed(pilot, "v", in_view(app, want)))
                    await asyncio.sleep(random.uniform(*GAP_S))
        finally:
            host.stop()
    return pause, view


async def kills(settings: Settings, n: int) -> list[float]:
    """``ctrl+k`` then ``y`` on a fresh flat-out replay each time: confirm to HALTED."""
    out: list[float] = []
    for _ in range(n):
        host = host_for(settings, None)
        app = ArbConsole(host, settings)
        try:
            async with app.run_test(size=SIZE) as pilot:
                while not status_shows(app, "ARMED") or host.snapshot().replay.events_done < 2000:
                    await asyncio.sleep(0.01)
                await pilot.press("ctrl+k")
                await asyncio.sleep(0.1)  # the operator reads the question
                out.append(await timed(pilot, "y", shows(app, "HALTED")))
        finally:
            host.stop()
    return out


def engine_cpu_s(host: EngineHost) -> float:
    """CPU seconds of the engine thread so far (Linux: per-thread clock)."""
    thread = host._thread
    assert thread is not None and thread.native_id is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]


async def console_cpu(settings: Settings, seconds: float) -> tuple[float, float, int]:
    """(console % of a core, engine % of a core, snapshots applied) at a paced replay."""
    host = host_for(settings, 14400.0)
    app = ArbConsole(host, settings)
    try:
        async with app.run_test(size=SIZE):
            await asyncio.sleep(1.0)
            applied0 = app.applied
            p0, e0, w0 = time.process_time(), engine_cpu_s(host), time.perf_counter()
            await asyncio.sleep(seconds)
            p1, e1, w1 = time.process_time(), engine_cpu_s(host), time.perf_counter()
            wall = w1 - w0
            engine = (e1 - e0) / wall * 100
            return ((p1 - p0) - (e1 - e0)) / wall * 100, engine, app.applied - applied0
    finally:
        host.stop()


async def memory(settings: Settings, runs: int) -> list[float]:
    """RSS (MB) after each of ``runs`` full flat-out replays with the console drawing."""
    out: list[float] = []
    for _ in range(runs):
        host = host_for(settings, None)
        app = ArbConsole(host, settings)
        try:
            async with app.run_test(size=SIZE):
                while not host.finished:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
        finally:
            host.stop()
        del app, host
        gc.collect()
        out.append(rss_mb())
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--cpu-seconds", type=float, default=10.0)
    ap.add_argument("--replays", type=int, default=10)
    ap.add_argument("--only", choices=("keys", "kill", "cpu", "memory"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arbtui-console-bench-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    global REPLAY
    os.environ["ARBTUI_STATE_DIR"] = str(tmp / "state")
    settings = load_config(CONFIG)
    # a drawdown stop-out would HALT the engine mid-bench: the limit is out of reach here
    settings = msgspec.structs.replace(
        settings, risk=msgspec.structs.replace(settings.risk, drawdown_limit_pct=99.0)
    )
    REPLAY = looped_replay(tmp / "looped.jsonl")
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    print(
        f"console bench: {SOURCE.name} x{LOOPS} flat out, {SIZE[0]}x{SIZE[1]}, "
        f"threads {threading.active_count()}"
    )
    if args.only in (None, "keys"):
        pause, view = asyncio.run(keys(settings, args.presses))
        show("key to screen, p (engine state), flat out", pause, KEY_TARGET_MS)
        show("key to screen, v (view switch), flat out", view, KEY_TARGET_MS)
    if args.only in (None, "kill"):
        show("kill: confirm (y) to HALTED on screen", asyncio.run(kills(settings, args.kills)),
             KILL_TARGET_MS)  # fmt: skip
    if args.only in (None, "cpu"):
        console, engine, applied = asyncio.run(console_cpu(settings, args.cpu_seconds))
        print(
            f"{'CPU at a paced replay (14400x)':<44} console {console:5.1f} % of a core, "
            f"engine thread {engine:5.1f} %, {applied / args.cpu_seconds:.1f} snapshots/s "
            "applied (target console <= 25 %)"
        )
    if args.only in (None, "memory"):
        rss = asyncio.run(memory(settings, args.replays))
        print(
            f"{f'RSS after each of {args.replays} replays (MB)':<44} "
            + " ".join(f"{x:.0f}" for x in rss)
            + f"  (growth after the first: {rss[-1] - rss[0]:+.1f} MB)"
        )


if __name__ == "__main__":
    main()
