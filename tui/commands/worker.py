"""``arbtui worker``: an executor process on the Redis order queue.

    arbtui worker [--config PATH] [--id NAME] [--max-inflight N]

Needs ``[queue] redis_url`` and the venues' API keys in the environment
(``ARBTUI_BINANCE_KEY``/``_SECRET``, ``ARBTUI_BITMEX_KEY``/``_SECRET``). Runs until SIGINT or
SIGTERM; then it stops taking work, finishes what it holds, gives back anything left and
exits 0. Exit code 2: bad configuration or missing keys; 1: a venue refused to start (for
example an account in hedge mode) or Redis is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import msgspec

from core.domain.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's arguments."""
    parser.add_argument("--id", metavar="NAME", help="worker id (default host-pid-random)")
    parser.add_argument(
        "--max-inflight", type=int, metavar="N", help="intents executed at once (default [queue])"
    )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run a worker until a signal; see the module docstring for exit codes."""
    if not settings.queue.redis_url:
        print(
            f"arbtui worker: {settings.source or 'config'}: queue.redis_url is empty: set it to "
            "the engine's Redis (redis://127.0.0.1:6379/0)",
            file=sys.stderr,
        )
        return 2
    from core.venues.ccxt_base import VenueStartError, credentials

    try:  # checked before any event loop starts
        for venue in sorted({s.venue for s in settings.instruments.values()}):
            credentials(venue)
    except VenueStartError as exc:
        print(f"arbtui worker: {exc}", file=sys.stderr)
        return 2
    if args.max_inflight:
        settings = msgspec.structs.replace(
            settings, queue=msgspec.structs.replace(settings.queue, max_inflight=args.max_inflight)
        )
    return asyncio.run(_main(settings, args.id))


async def _main(settings: Settings, wid: str | None) -> int:
    from redis.exceptions import RedisError

    from core.execution.router import specs_of, timings
    from core.execution.state import OrderBook
    from core.execution.worker import Worker
    from core.runtime.execution import build_venues
    from core.venues.ccxt_base import VenueStartError

    book = OrderBook(specs_of(settings))
    try:
        venues = build_venues(settings, book)
    except VenueStartError as exc:
        print(f"arbtui worker: {exc}", file=sys.stderr)
        return 2
    worker = Worker(settings.queue, venues, book, timings(settings), wid=wid)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.start()
    except VenueStartError as exc:
        print(f"arbtui worker: {exc}", file=sys.stderr)
        await worker.close()
        return 1
    except (OSError, RedisError) as exc:
        print(f"arbtui worker: Redis {settings.queue.redis_url}: {exc}", file=sys.stderr)
        await worker.close()
        return 1
    print(f"arbtui worker {worker.id}: running", file=sys.stderr, flush=True)
    try:
        await worker.run()
    finally:
        await worker.close()
    return 0
