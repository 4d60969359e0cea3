"""Helpers for the feed tests: an async poller, feeds wired to a collecting sink, and the
fake exchanges started on the test's own loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from core.domain.events import Event
from core.feeds.health import HealthBoard
from core.feeds.sink import EventSink
from tests.conftest import aeventually as until  # noqa: F401  (used by the feed tests)
from tests.fake_exchange.exchanges import FakeExchanges


class Collect:
    """A sink into a list, a health board and a log, for driving one feed in a test."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.sink = EventSink(self.events.append)
        self.board = HealthBoard()
        self.log: list[tuple[str, str]] = []

    def say(self, kind: str, text: str) -> None:
        self.log.append((kind, text))

    def of(self, kind: type[Any], venue: str | None = None) -> list[Any]:
        return [e for e in self.events if type(e) is kind and venue in (None, e.venue)]


@contextlib.asynccontextmanager
async def running(*coros: Any) -> AsyncIterator[list[asyncio.Task[Any]]]:
    """Run coroutines as tasks for the block; cancel and await them after."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        yield tasks
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def fakes(interval_s: float = 0.05) -> AsyncIterator[FakeExchanges]:
    fx = FakeExchanges(interval_s)
    await fx.start()
    try:
        yield fx
    finally:
        await fx.stop()
