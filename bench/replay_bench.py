"""Replay throughput of the full two-leg engine on the shipped March 2020 replay.

Prints: decode rate (msgspec, events/s), engine rate on decoded events (events/s), and the
end-to-end headless rate (decode + engine), best of N runs; and the console host's kill-switch
latency while the replay runs flat out (p50/p99 over several kills).

    .venv/bin/python bench/replay_bench.py [REPLAY] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.analysis.replay import iter_replay, load_replay  # noqa: E402
from core.domain import commands as cmd  # noqa: E402
from core.domain.config import load_config  # noqa: E402
from core.engine.engine import Engine  # noqa: E402
from core.runtime.host import EngineHost  # noqa: E402


def best(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("replay", nargs="?", default=str(ROOT / "replays" / "btc_2020-03.jsonl.gz"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    settings = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")
    _, events = load_replay(args.replay)
    n = len(events)

    decode_s = best(lambda: list(iter_replay(args.replay)[1]), args.runs)

    def engine_only() -> None:
        eng = Engine(settings)
        on = eng.on_event
        for ev in events:
            on(ev)

    engine_s = best(engine_only, args.runs)

    def end_to_end() -> None:
        eng = Engine(settings)
        on = eng.on_event
        for ev in iter_replay(args.replay)[1]:
            on(ev)

    e2e_s = best(end_to_end, args.runs)
    print(f"replay            {args.replay} ({n:,} events)")
    print(f"decode            {n / decode_s:>12,.0f} events/s")
    print(f"engine            {n / engine_s:>12,.0f} events/s")
    print(f"decode + engine   {n / e2e_s:>12,.0f} events/s  ({e2e_s * 1000:.0f} ms a run)")

    lat = []
    for _ in range(7):
        host = EngineHost.for_replay(settings, args.replay, speed=None)
        host.start()
        while not host.snapshot().exposure_open:
            time.sleep(0.001)
        t0 = time.perf_counter()
        host.submit(cmd.Kill())
        while host.snapshot().risk.trading_state != "HALTED":
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t0) * 1000)
        host.stop()
    lat.sort()
    p99 = lat[-1]
    print(
        f"kill latency      p50 {statistics.median(lat):.1f} ms, max {p99:.1f} ms "
        f"(engine thread busy replaying, {len(lat)} kills)"
    )


if __name__ == "__main__":
    main()
