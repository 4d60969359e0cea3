"""Headless paper runs: one status line per interval on stdout (``arbtui --paper --headless``).

A line reads, e.g.::

    2026-01-01T12:00:05Z PAPER ARMED | binance live 412 msg | bitmex STALE quote:XBTUSD 6.1s
    | BTC spread -10.86% APR basis -88.12% edge +76.2% open | trades 2 equity 132,417 USD

(one line; wrapped here). Feeds show ``live`` or the stale stream and for how long.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from core.domain import commands as cmd
from core.domain.snapshot import EngineSnapshot
from core.runtime.paper_session import PaperSession


def _pct(x: float | None, scale: float = 100.0) -> str:
    return "n/a" if x is None else f"{x * scale:+.2f}%"


def status_line(snap: EngineSnapshot) -> str:
    """One status line for ``snap`` (no newline)."""
    when = (
        datetime.fromtimestamp(snap.ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if snap.ts_ms > 0
        else "waiting-for-data"
    )
    parts = [f"{when} {snap.mode.upper()} {snap.risk.trading_state}"]
    venues: dict[str, list[str]] = {}
    msgs: dict[str, int] = {}
    for f in snap.feeds:
        msgs[f.venue] = msgs.get(f.venue, 0) + f.messages
        if f.state != "live":
            venues.setdefault(f.venue, []).append(
                f"{f.state.upper()} {f.stream} {f.stale_for_ms / 1000:.1f}s"
            )
        else:
            venues.setdefault(f.venue, [])
    for venue, bad in venues.items():
        parts.append(f"{venue} " + (", ".join(bad) if bad else f"live {msgs[venue]} msg"))
    for p in snap.pairs:
        basis = None if p.basis_pct is None else p.basis_pct / 100
        edge = None if p.edge_pct is None else p.edge_pct / 100
        parts.append(
            f"{p.name} spread {_pct(p.spread_apr)} APR basis {_pct(basis)} edge {_pct(edge)} "
            f"{p.status}"
        )
    parts.append(f"trades {snap.trades} equity {snap.risk.equity_usd:,.0f} USD")
    return " | ".join(parts)


SHOWN = frozenset({"fill", "alert", "funding"})
"""Log kinds printed by a headless paper or live run."""


def run_headless(
    session: PaperSession,
    *,
    every_s: float,
    duration_s: float | None = None,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Run the session without a console until ``duration_s`` passes, SIGINT or SIGTERM;
    print a status line every ``every_s``, and each fill, funding payment and alert once as it
    comes. Returns 0; 1 if the engine died, or if a venue's market data never came (one line
    on ``err`` naming each such venue, its connection attempts and last error)."""
    host = session.host
    stop = threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    host.start()
    start = time.monotonic()
    seen = 0
    try:
        while not stop.is_set():
            left = None if duration_s is None else duration_s - (time.monotonic() - start)
            if left is not None and left <= 0:
                break
            stop.wait(every_s if left is None else min(every_s, left))
            snap = host.snapshot()
            for entry in snap.log:  # fills, alerts and funding as they happen, each once
                if entry.seq > seen and entry.kind in SHOWN:
                    out(f"  {entry.kind}: {entry.text}")
            seen = max((e.seq for e in snap.log), default=seen)
            out(status_line(snap))
            if host.error is not None:
                return 1
    finally:
        host.submit(cmd.Shutdown(source="headless"))
        host.stop(timeout_s=2.0)
        for sig, old in handlers.items():
            signal.signal(sig, old)
    snap = host.snapshot()
    for entry in snap.log:  # what came after the last status line
        if entry.seq > seen and entry.kind in SHOWN:
            out(f"  {entry.kind}: {entry.text}")
    never = never_connected(snap)
    if never:
        err(f"arbtui: never connected: {'; '.join(never)}")
        return 1
    if host.exit_code:  # e.g. live execution could not start: the alert said why
        err(f"arbtui: {host.failed or host.attention.state_reason or 'failed'}")
        return host.exit_code
    return 0


def never_connected(snap: EngineSnapshot) -> list[str]:
    """Each venue none of whose market streams ever received a message, with the feed's
    note (attempts, last error): ``binance (attempt 5, last error ...)``."""
    got: dict[str, int] = {}
    note: dict[str, str] = {}
    for f in snap.feeds:
        if f.stream == "private":
            continue
        got[f.venue] = got.get(f.venue, 0) + f.messages
        if f.note:
            note.setdefault(f.venue, f.note)
    return [
        venue + (f" ({note[venue]})" if venue in note else "") for venue, n in got.items() if n == 0
    ]
