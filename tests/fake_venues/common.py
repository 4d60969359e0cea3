"""Shared parts of the fake exchanges: an aiohttp server on 127.0.0.1, fault injection, an
async ``eventually`` poller, and the request log the tests assert on."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.conftest import aeventually  # noqa: F401  (re-exported for the fakes' tests)


@dataclass
class Fault:
    """What the next matching request gets instead of a normal answer.

    ``status``/``body``/``headers``: answer with this error (the order is not processed
    unless ``process`` is True). ``process_after_s``: process the request (accept the order)
    only after this delay. ``respond_after_s``: answer only after this delay (a client with a
    shorter timeout sees a timeout). ``drop``: never process it (the request is lost).
    """

    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    process: bool = False
    process_after_s: float = 0.0
    respond_after_s: float = 0.0
    drop: bool = False


@dataclass
class Logged:
    """One request the fake received."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]
    ts: float


class FakeServer:
    """An aiohttp app on 127.0.0.1 (random port) with a request log and a fault plan."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.log: list[Logged] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._bg: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``route`` ("POST /fapi/v1/order") with
        ``fault``."""
        for _ in range(times):
            self.faults[route].append(fault)

    def take_fault(self, route: str) -> Fault | None:
        q = self.faults.get(route)
        return q.popleft() if q else None

    def later(self, delay_s: float, fn: Callable[[], Awaitable[Any] | None]) -> None:
        """Run ``fn`` after ``delay_s`` on the server's loop."""

        async def run() -> None:
            await asyncio.sleep(delay_s)
            res = fn()
            if asyncio.iscoroutine(res):
                await res

        task = asyncio.get_running_loop().create_task(run())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def fill_as_set(self, order: Any, cid: str, qty: Any, fill: Callable[[Any, Any], None]) -> None:
        """Fill ``order`` whole at once, or in the steps ``partial[cid]`` (or ``partial["*"]``)
        sets, ``partial_every_s`` apart; ``fill(order, qty)`` books one step."""
        partial: dict[str, list[Any]] = getattr(self, "partial", {})
        steps = partial.get(cid) or partial.get("*")
        if not steps:
            fill(order, qty)
            return
        fill(order, steps[0])
        every = float(getattr(self, "partial_every_s", 0.05))
        for i, step in enumerate(steps[1:], start=1):
            self.later(every * i, lambda s=step: fill(order, s))

    def requests(self, method: str, path: str) -> list[Logged]:
        return [r for r in self.log if r.method == method and r.path == path]

    async def start(self) -> FakeServer:
        self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for t in list(self._bg):
            t.cancel()
        if self.runner is not None:
            await self.runner.cleanup()

    async def record(self, request: web.Request) -> str:
        body = await request.text()
        self.log.append(
            Logged(
                request.method,
                request.path,
                request.query_string,
                body,
                dict(request.headers),
                time.monotonic(),
            )
        )
        return body


def dec(value: Any) -> Decimal:
    return Decimal(str(value))
