"""Audit log throughput, write-ahead latency, and what the observers cost a headless replay.

Prints, for SQLite ``synchronous`` FULL and NORMAL:
- sustained rows/s through the single writer with the hash chain (fills submitted as fast as
  possible, batched, then one flush), target >= 20,000 rows/s;
- the write-ahead latency of an order intent (submit, wait until committed) p50/p99/max, alone
  (a live desk: a few fills a minute) and while 5,000 fills a second stream in beside it (a
  stress case: an intent then waits behind the batch being written), target p99 <= 5 ms;
The process runs with the console's thread switch interval (0.5 ms, DESIGN: the engine
thread's latency), as a live session does. Last, the headless replay of the shipped March 2020
file with every observer attached (audit, file log, metrics) against the same loop without
them: best-of-N wall time of the event loop and in total, and process CPU time (which counts
the writer and log threads too and is steadier on a shared machine).

    .venv/bin/python bench/audit_bench.py [--rows N] [--intents N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from core.analysis.replay import iter_replay  # noqa: E402
from core.analysis.report import build_report  # noqa: E402
from core.domain.config import load_config  # noqa: E402
from core.domain.orders import Fill, OrderIntent  # noqa: E402
from core.engine.engine import Engine  # noqa: E402
from core.observe.audit.recorder import make_encoder  # noqa: E402
from core.observe.audit.writer import AuditWriter  # noqa: E402
from core.runtime.headless import run_replay  # noqa: E402

REPLAY = ROOT / "replays" / "btc_2020-03.jsonl.gz"


def fill(i: int) -> Fill:
    return Fill(
        f"arb-BTC-bin-he-{i:07d}",
        "BTC",
        "binance",
        "BTCUSDT",
        "buy" if i % 2 else "sell",
        Decimal("0.413"),
        Decimal("60123.40"),
        Decimal("0.0124153"),
        "USDT",
        False,
        "hedge",
        1_584_025_259_999 + i,
    )


def throughput(tmp: Path, sync: str, n: int) -> float:
    w = AuditWriter(tmp / f"tp-{sync}.db", make_encoder("bench"), synchronous=sync)
    w.start()
    t0 = time.perf_counter()
    for i in range(n):
        w.submit(fill(i))
    w.flush(timeout_s=120)
    rate = n / (time.perf_counter() - t0)
    w.close()
    return rate


def write_ahead(tmp: Path, sync: str, n: int, stream: bool) -> list[float]:
    w = AuditWriter(tmp / f"wa-{sync}-{stream}.db", make_encoder("bench"), synchronous=sync)
    w.start()
    stop = threading.Event()

    def background() -> None:  # a steady stream of fills beside the intents (~5,000 rows/s)
        i = 0
        while not stop.is_set():
            for _ in range(50):
                w.submit(fill(i))
                i += 1
            time.sleep(0.01)

    bg = threading.Thread(target=background, daemon=True)
    if stream:
        bg.start()
    lat = []
    for i in range(n):
        intent = OrderIntent(
            f"arb-BTC-bit-en-{i:07d}",
            "BTC",
            "bitmex",
            "XBTUSD",
            "buy",
            Decimal(2500),
            False,
            "entry",
            1_584_025_259_999 + i,
        )
        t0 = time.perf_counter()
        w.submit_durable(intent, timeout_s=5)
        lat.append(time.perf_counter() - t0)
        time.sleep(0.002)
    stop.set()
    if stream:
        bg.join()
    w.close()
    return sorted(lat)


def replay_cost(tmp: Path, runs: int) -> None:
    """The headless replay with every observer (core.runtime.headless.run_replay as shipped: audit,
    file log, metrics recorded but not served) against the same loop without observers (the
    runner as it was before them). "events" is the report's own wall_s (the event loop);
    "total" adds opening and closing the logs and building the report."""
    os.environ["ARBTUI_STATE_DIR"] = str(tmp / "state")
    base = load_config(ROOT / "configs" / "binance_bitmex_2020.toml")
    observed = msgspec.structs.replace(base, metrics=msgspec.structs.replace(base.metrics, port=0))

    def bare() -> float:
        eng = Engine(base)
        events = iter_replay(REPLAY)[1]
        t0 = time.perf_counter()
        on = eng.on_event
        for ev in events:
            on(ev)
        wall = time.perf_counter() - t0
        build_report(eng, wall)
        return wall

    def with_observers() -> float:
        return float(run_replay(observed, REPLAY)["wall_s"])

    res: dict[str, list[tuple[float, float, float]]] = {"bare": [], "observed": []}
    for _ in range(runs):  # interleaved, so a busy moment hurts both alike
        for name, fn in (("bare", bare), ("observed", with_observers)):
            w0, c0 = time.perf_counter(), time.process_time()
            loop = fn()
            res[name].append((loop, time.perf_counter() - w0, time.process_time() - c0))
    best = {k: [min(x[i] for x in v) for i in range(3)] for k, v in res.items()}
    (bl, bw, bc), (ol, ow, oc) = best["bare"], best["observed"]
    for name, (lw, tw, cpu) in best.items():
        print(
            f"headless replay {name:9s} events {lw * 1000:5.0f} ms  total {tw * 1000:5.0f} ms  "
            f"cpu {cpu * 1000:5.0f} ms"
        )
    print(
        f"  observers add {(ol / bl - 1) * 100:+.1f} % to the event loop (the report's wall_s), "
        f"{(ow / bw - 1) * 100:+.1f} % in total, {(oc / bc - 1) * 100:+.1f} % cpu "
        f"(best of {runs} each)"
    )


SWITCH_INTERVAL_S = 0.0005
"""As tui/console.py sets it for a session (DESIGN "Performance budget")."""


def main() -> None:
    default_switch_s = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--intents", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for sync in ("FULL", "NORMAL"):
            rate = throughput(tmp, sync, args.rows)
            print(
                f"synchronous={sync:6s} {rate:>9,.0f} rows/s sustained "
                f"({args.rows:,} fills, chained, batched)"
            )
            for stream, what in ((False, "alone"), (True, "beside 5,000 fills/s")):
                lat = write_ahead(tmp, sync, args.intents, stream)
                p50 = statistics.median(lat) * 1000
                p99 = lat[int(len(lat) * 0.99) - 1] * 1000
                print(
                    f"  write-ahead of an intent, {what:21s} p50 {p50:5.2f} ms  "
                    f"p99 {p99:5.2f} ms  max {lat[-1] * 1000:6.2f} ms ({len(lat)} intents)"
                )
        sys.setswitchinterval(default_switch_s)  # the headless runner does not change it
        replay_cost(tmp, args.runs)


if __name__ == "__main__":
    main()
