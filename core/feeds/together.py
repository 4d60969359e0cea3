"""Running a feed's coroutines as one: all start, and when one ends, fails or the caller is
cancelled, the others are cancelled and awaited (so sockets and ccxt sessions close)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def run_together(*coros: Coroutine[Any, Any, Any]) -> None:
    """Run ``coros`` concurrently until one raises or all end; cancel and await the rest.
    The first exception (or the caller's cancellation) propagates."""
    running = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*running)
    finally:
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
