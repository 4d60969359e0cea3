"""A per-test Redis key prefix on the real server at 127.0.0.1:6379, cleaned up after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from core.domain.config import Settings
from core.execution.limits import VenueLimiter
from core.execution.redis_queue import make_client
from core.execution.worker import Worker

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    p = f"arbtui-test-{uuid.uuid4().hex[:10]}"
    yield p
    r = make_client(REDIS, 5.0)
    keys = [k async for k in r.scan_iter(match=f"{p}:*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()


def limiters() -> dict[str, VenueLimiter]:
    """One rate limiter a venue, as a run has (3 s longest wait)."""
    return {n: VenueLimiter(n, max_wait_s=3.0) for n in ("binance", "bybit")}


@asynccontextmanager
async def router_and_worker(
    settings: Settings, engine_id: str, listener: Callable[[Any], None]
) -> AsyncIterator[tuple[Any, Worker, dict[str, Any]]]:
    """The engine's Redis router (updates to ``listener``) and one in-process worker, both
    started from ``settings`` (``[queue]`` pointed at the real Redis and a test prefix),
    running until the block ends; yields (router, worker, the worker's venues). The caller
    owns (starts and stops) the fake venues."""
    from core.execution.router import specs_of, timings
    from core.execution.state import OrderBook
    from core.runtime.execution import build_execution, build_venues

    router, _ = build_execution(settings, engine_id=engine_id, limiters=limiters())
    router.listener = listener
    wbook = OrderBook(specs_of(settings))
    wvenues = build_venues(settings, wbook, limiters=limiters())
    worker = Worker(settings.queue, wvenues, wbook, timings(settings))
    await router.start()
    await worker.start()
    tasks = [asyncio.create_task(router.run()), asyncio.create_task(worker.run())]
    try:
        yield router, worker, wvenues
    finally:
        worker.stop()
        await router.close()
        await asyncio.wait(tasks, timeout=3)
        await worker.close()
