"""Order-queue throughput and intent-to-venue latency, in-process and through Redis.

The venue is a null venue that answers FILLED at once, so the figures are the queue's own:
latency is ``submit`` -> the first venue call of the intent (the router's ``on_latency``);
throughput is intents submitted in one burst / seconds until every FILLED update is back at
the router. The Redis run uses one worker in a separate process (spawn) on the real Redis at
``--redis`` (loopback), with the production code path (claim keys, MULTI acknowledgement).

    .venv/bin/python bench/queue_bench.py [--n 20000] [--paced 5000] [--redis URL]

Targets (DESIGN/issue 4, loopback): in-process p99 <= 0.2 ms; Redis p99 <= 1 ms and >= 3,000
intents/s through one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.domain.config import QueueSettings  # noqa: E402
from core.domain.orders import OrderIntent  # noqa: E402
from core.domain.venue import OrderStatus, OrderUpdate  # noqa: E402
from core.execution.executor import Timings  # noqa: E402
from core.execution.inprocess import InProcessRouter  # noqa: E402
from core.execution.redis_queue import make_client  # noqa: E402
from core.execution.redis_router import RedisRouter  # noqa: E402
from core.execution.state import OrderBook, Report  # noqa: E402


class NullVenue:
    """Answers every order FILLED at 50,000 without I/O."""

    venue = "binance"

    async def place_report(self, intent: OrderIntent) -> Report:
        return Report(
            cid=intent.client_order_id,
            venue="binance",
            symbol=intent.symbol,
            status=OrderStatus.FILLED,
            filled_qty=intent.qty,
            avg_price=Decimal(50000),
            ts_ms=0,
        )

    async def lookup(self, symbol: str, cid: str) -> Report:
        return Report(
            cid=cid, venue="binance", symbol=symbol, status=OrderStatus.UNKNOWN, found=False
        )


def intent(i: int, run: str) -> OrderIntent:
    return OrderIntent(
        f"b{run}-{i:08d}", "BTC", "binance", "BTCUSDT", "buy", Decimal("0.001"), False, "entry", 0
    )


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(int(len(s) * p), len(s) - 1)] * 1000


async def drive(router, n_paced: int, n_burst: int) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """Paced run (one intent at a time) for latency, then a burst for throughput."""
    lat: list[float] = []
    done = asyncio.Event()
    count = [0, 0]

    def on_update(u: OrderUpdate) -> None:
        if u.status is OrderStatus.FILLED:
            count[0] += 1
            if count[0] >= count[1]:
                done.set()

    router.listener = on_update
    router.on_latency = lat.append
    run = uuid.uuid4().hex[:6]
    for i in range(n_paced):
        count[1] = count[0] + 1
        done.clear()
        router.submit(intent(i, run))
        await done.wait()
    paced = list(lat)
    await asyncio.sleep(0.2)
    count[0], count[1] = 0, n_burst
    done.clear()
    t0 = time.perf_counter()
    for i in range(n_burst):
        router.submit(intent(n_paced + i, run))
    await done.wait()
    return paced, n_burst / (time.perf_counter() - t0)


async def in_process(n_paced: int, n_burst: int) -> tuple[list[float], float]:
    router = InProcessRouter({"binance": NullVenue()}, OrderBook({}), Timings())
    return await drive(router, n_paced, n_burst)


def worker_main(url: str, prefix: str) -> None:
    from core.execution.worker import Worker

    async def run() -> None:
        qs = QueueSettings(
            redis_url=url,
            key_prefix=prefix,
            block_timeout_s=1.0,
            socket_timeout_s=2.0,
            lease_s=10.0,
            max_inflight=64,
        )
        w = Worker(qs, {"binance": NullVenue()}, OrderBook({}), Timings())
        await w.start()
        await w.run()

    asyncio.run(run())


async def via_redis(url: str, n_paced: int, n_burst: int) -> tuple[list[float], float]:
    prefix = f"arbtui-bench-{uuid.uuid4().hex[:8]}"
    qs = QueueSettings(redis_url=url, key_prefix=prefix, block_timeout_s=1.0, socket_timeout_s=2.0)
    proc = mp.get_context("spawn").Process(target=worker_main, args=(url, prefix), daemon=True)
    proc.start()
    router = RedisRouter(qs, {}, OrderBook({}), engine_id="bench")
    await router.start()
    task = asyncio.get_running_loop().create_task(router.run())
    r = make_client(url, 2.0)
    try:
        while not await r.hlen(f"{prefix}:workers"):
            await asyncio.sleep(0.05)
        return await drive(router, n_paced, n_burst)
    finally:
        proc.terminate()
        proc.join(5)
        await router.close()
        await asyncio.wait({task}, timeout=2)
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()


def bare_consumer(url: str, key: str, n: int) -> None:
    """Calibration: BLMOVE an item, LREM it, signal back; no queue code of ours."""

    async def run() -> None:
        r = make_client(url, 3.0)
        for _ in range(n):
            item = await r.blmove(f"{key}:p", f"{key}:w", 2.0, "RIGHT", "LEFT")
            await r.lpush(f"{key}:lat", str(time.time() - float(item)).encode())
            await r.lrem(f"{key}:w", 1, item)
        await r.aclose()

    asyncio.run(run())


async def bare(url: str, n: int) -> list[float]:
    """The bare BLMOVE-and-acknowledge primitive across two processes (for comparison)."""
    key = f"arbtui-bench-bare-{uuid.uuid4().hex[:8]}"
    r = make_client(url, 3.0)
    proc = mp.get_context("spawn").Process(target=bare_consumer, args=(url, key, n), daemon=True)
    proc.start()
    lat: list[float] = []
    try:
        for _ in range(n):
            await r.lpush(f"{key}:p", repr(time.time()).encode())
            got = await r.brpop([f"{key}:lat"], 5.0)
            lat.append(float(got[1]))
    finally:
        proc.join(5)
        await r.delete(f"{key}:p", f"{key}:w", f"{key}:lat")
        await r.aclose()
    return lat


def show(name: str, lat: list[float], rate: float) -> None:
    print(
        f"{name:11s} latency p50 {pct(lat, 0.50):.3f} ms  p99 {pct(lat, 0.99):.3f} ms  "
        f"max {max(lat) * 1000:.3f} ms  (n={len(lat)})   throughput {rate:,.0f} intents/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000, help="burst size for throughput")
    ap.add_argument("--paced", type=int, default=5000, help="intents for the latency run")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args()
    lat, rate = asyncio.run(in_process(a.paced, a.n))
    show("in-process", lat, rate)
    lat, rate = asyncio.run(via_redis(a.redis, a.paced, a.n))
    show("redis", lat, rate)
    lat = asyncio.run(bare(a.redis, min(a.paced, 3000)))
    print(
        f"calibration: bare BLMOVE+ack across two processes, latency p50 "
        f"{pct(lat, 0.50):.3f} ms  p99 {pct(lat, 0.99):.3f} ms  (n={len(lat)}); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
