"""Kill switch: key-to-orders-sent latency (issue 11, 1(c)); target <= 200 ms p99.

Two rigs, each with the audit log healthy and with its disk full (every commit fails as
SQLite does on ENOSPC, ``tests/diskfull.py``):

- replay: the console host replays the shipped March 2020 file flat out (``speed`` None),
  the audit log writing each intent ahead (``audit.write_ahead_in_replay``, as paper and live
  do); from ``host.submit(Kill)`` (the key) to the last kill order handed to the venue.
- live: an armed live engine on the local fakes of Binance USD-M and Bybit v5 (127.0.0.1)
  through the runtime's EngineRouter, its loop kept busy with market events flat out; from
  ``engine.handle(Kill)`` to both venues holding the kill orders (after each venue's
  cancel-all of the traded symbol).

    .venv/bin/python bench/kill_bench.py [--kills N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.domain import commands as cmd  # noqa: E402
from core.domain.config import Settings, load_config  # noqa: E402
from core.domain.risk import TradingState  # noqa: E402
from core.engine.engine import Engine  # noqa: E402
from core.runtime.host import EngineHost  # noqa: E402
from core.runtime.live_link import EngineRouter  # noqa: E402
from core.runtime.wiring import attach_observers  # noqa: E402
from tests.diskfull import disk_full  # noqa: E402
from tests.fake_venues import ENV, default_settings, running  # noqa: E402
from tests.helpers import bar  # noqa: E402

REPLAY = ROOT / "replays" / "btc_2020-03.jsonl.gz"
TARGET_MS = 200.0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def show(name: str, lat: list[float], sent: int) -> None:
    p99 = pct(lat, 0.99)
    ok = "ok" if p99 <= TARGET_MS else "OVER TARGET"
    print(
        f"{name:<34} p50 {statistics.median(lat):7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {max(lat):7.1f} ms  ({len(lat)} kills, {sent} orders sent)  {ok}"
    )


# ---------------------------------------------------------------------------- replay host
def replay_kills(settings: Settings, n: int, full: bool) -> tuple[list[float], int]:
    lat: list[float] = []
    sent = 0
    for _ in range(n):
        host = EngineHost.for_replay(settings, REPLAY, speed=None)
        eng = host.engine
        kill_sent: list[float] = []
        submit = eng.venue.submit

        def timed(intent, price, submit=submit, kill_sent=kill_sent):  # type: ignore[no-untyped-def]
            if intent.purpose == "kill":
                kill_sent.append(time.perf_counter())
            return submit(intent, price)

        eng.venue.submit = timed  # type: ignore[method-assign]
        host.start()
        try:
            while not host.snapshot().exposure_open:
                time.sleep(0.001)
            audit = host.observers.audit
            assert audit is not None
            with disk_full() if full else _nothing():
                if full:
                    while audit.writer.error is None:  # the log has failed a commit
                        time.sleep(0.001)
                t0 = time.perf_counter()
                host.submit(cmd.Kill(source="bench"))
                while host.snapshot().risk.trading_state != "HALTED":
                    time.sleep(0.0002)
                time.sleep(0.01)
                if kill_sent:
                    lat.append((max(kill_sent) - t0) * 1000)
                    sent += len(kill_sent)
        finally:
            host.stop()
    return lat, sent


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# ------------------------------------------------------------------------------ live fakes
async def live_kills(n: int, full: bool, state: Path) -> tuple[list[float], int]:
    base = default_settings()
    base = msgspec.structs.replace(
        base, audit=msgspec.structs.replace(base.audit, path=str(state / "audit-live.db"))
    )
    lat: list[float] = []
    sent = 0
    async with running(base, timeout_ms=2000, grace_ms=500) as rig:
        eng = Engine(rig.settings, mode="live")
        obs = attach_observers(eng, run_id="kill-bench")
        rig.router.listener = eng.on_order_update
        eng.connect_router(EngineRouter(rig.router, rig.venues, eng), None)
        stop = asyncio.Event()

        async def busy() -> None:  # the engine replays market events flat out
            i = 0
            while not stop.is_set():
                for _ in range(200):
                    i += 1
                    venue = "binance" if i % 2 else "bybit"
                    eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:01", 50_000.0))
                await asyncio.sleep(0)

        for venue in ("binance", "bybit"):
            eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:01", 50_000.0))
        feeder = asyncio.get_running_loop().create_task(busy())
        pair = eng.pairs[0]
        try:
            for _ in range(n):
                eng.set_state(TradingState.ARMED, "bench")
                eng.drive(pair, pair.enter(1))
                await until(lambda: pair.status == "open")
                fakes = (rig.fb, rig.fy)
                before = [len(f.orders) for f in fakes]
                with disk_full() if full else _nothing():
                    if full:
                        assert obs.audit is not None
                        obs.audit.writer.submit("probe")
                        await until(lambda: obs.audit is not None and obs.audit.writer.error)
                    t0 = time.monotonic()
                    eng.handle(cmd.Kill(source="bench"))
                    await until(lambda: not eng.ledger.has_exposure())
                kills = [o for f, b in zip(fakes, before, strict=True) for o in f.orders[b:]]
                kill_ms = [r.ts for f in fakes for r in f.log if r.ts >= t0 and _creates(r)]
                assert len(kills) == 2, kills
                lat.append((max(kill_ms) - t0) * 1000)
                sent += len(kills)
                if full:
                    obs.audit.flush(timeout_s=5)  # type: ignore[union-attr]
        finally:
            stop.set()
            await feeder
            eng.disconnect_router()
            for close in obs.closers:
                close()
    return lat, sent


def _creates(r) -> bool:  # type: ignore[no-untyped-def]
    return r.method == "POST" and r.path in ("/fapi/v1/order", "/v5/order/create")


async def until(cond: Callable[[], object], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.0005)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="arbtui-kill-bench-"))
    os.environ["ARBTUI_STATE_DIR"] = str(state)
    os.environ.update(ENV)
    settings = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")
    settings = msgspec.structs.replace(
        settings,
        audit=msgspec.structs.replace(settings.audit, write_ahead_in_replay=True),
        metrics=msgspec.structs.replace(settings.metrics, port=0),
    )
    print(f"kill switch, key to orders sent (target p99 <= {TARGET_MS:.0f} ms)")
    for full in (False, True):
        lat, sent = replay_kills(settings, args.kills, full)
        show(f"replay flat out, audit {'DISK FULL' if full else 'healthy'}", lat, sent)
    for full in (False, True):
        lat, sent = asyncio.run(live_kills(args.kills, full, state))
        show(f"live fakes busy, audit {'DISK FULL' if full else 'healthy'}", lat, sent)


if __name__ == "__main__":
    main()
