"""The funding scanner, assembled: each registered live venue's universe source (registry ->
``VenuePlugin.open_universe``), the cross-venue match, the ranking (:mod:`core.domain.scan`)
and the settled-rate history behind the 1/3/7-day averages. ``arbtui scan`` and the console's
scanner screen use :class:`Scanner`; they only format what it returns.

A refresh reads every venue's universe concurrently, ranks every matched pair on the
estimates, then reads the settled history (the longest averaging window plus one interval)
of the legs of the best ``history_rows`` rows and ranks again with it. History is cached per
perpetual and read again only after a settlement it had not seen: its ``next_funding_ms`` at
the last read (or, when that is stale, the next instant of its interval grid) has passed. So
a ``--watch`` loop costs one history request per leg per settlement. A venue that cannot be
read is named in :attr:`ScanResult.errors`; the others are still ranked. A settled history that
cannot be read is a warning (:attr:`ScanResult.warnings`): that row shows no averages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.domain.config import Settings
from core.domain.errors import BadInput
from core.domain.scan import DAY_MS, HOUR_MS, Opportunity, ScanSettings, rank
from core.domain.universe import Perp, SettledHistory, match
from core.runtime.open_interest import EVERY_S, OpenInterestBook
from core.venues import registry
from core.venues.universe import PerSymbolOpenInterest, UniverseSource

#: History requests in flight at once (per scanner, all venues together).
HISTORY_CONCURRENCY = 4


def wall_ms() -> int:
    """Wall-clock UTC ms (the scanner is a view, not a trading decision)."""
    return int(time.time() * 1000)


def live_venues(now_ms: int) -> list[str]:
    """Registered venues that are live at ``now_ms`` and have a universe source."""
    out = []
    for name in registry.names():
        p = registry.plugin(name)
        if p.open_universe is not None and p.lifecycle.state(now_ms) == "live":
            out.append(name)
    return out


def taker_fees(settings: Settings) -> dict[str, float]:
    """The account's taker fee per venue, from the configured instruments (the first one
    of each venue); venues without one use their base tier."""
    out: dict[str, float] = {}
    for spec in settings.instruments.values():
        out.setdefault(spec.venue, float(spec.taker_fee))
    return out


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One refresh: the ranked rows, the perpetuals read per venue, how many pairs matched,
    the venues that failed (name -> one line), and when (``now_ms``, ``took_ms``)."""

    rows: list[Opportunity]
    perps: dict[str, int]
    pairs: int
    errors: dict[str, str]
    now_ms: int
    took_ms: float
    histories: Mapping[tuple[str, str], SettledHistory] = field(default_factory=dict)
    """The settled histories read so far, by (venue, symbol) (the console's charts)."""
    warnings: list[str] = field(default_factory=list)
    """Settled histories that could not be read this time (those rows show no averages)."""


@dataclass
class _Cached:
    history: SettledHistory
    valid_until_ms: int


@dataclass
class Scanner:
    """See the module docstring. ``venues``: names (default: every live venue);
    ``history_rows``: how many of the best rows get their settled history read (0 = none);
    ``open_interest_every_s``: seconds between two reads of a per-symbol open interest."""

    settings: Settings
    scan: ScanSettings = field(default_factory=ScanSettings)
    venues: Sequence[str] = ()
    history_rows: int = 20
    clock: Callable[[], int] = wall_ms
    open_interest_every_s: float = EVERY_S
    wait_open_interest: bool = True
    on_wait: Callable[[str], None] | None = None
    """Told, in one line, what a refresh waits for when it waits for a first open-interest
    round (``arbtui scan`` prints it on stderr: the first round of a few hundred symbols
    takes a while at the venue's pace)."""
    sources: dict[str, UniverseSource] = field(default_factory=dict)
    _history: dict[tuple[str, str], _Cached] = field(default_factory=dict)
    open_interest: OpenInterestBook = field(init=False)

    def __post_init__(self) -> None:
        now = self.clock()
        known = live_venues(now)
        names = list(self.venues) or known
        for name in names:
            if name not in known:
                raise BadInput(
                    f"--venues: {name!r} is not a live venue with a scanner source; "
                    f"live: {', '.join(known)}"
                )
        if len(set(names)) < 2:
            raise BadInput("--venues: name at least two venues (pairs span two venues)")
        fees = taker_fees(self.settings)
        for name in names:
            make = registry.plugin(name).open_universe
            assert make is not None
            self.sources[name] = make(self.settings.feeds, fees.get(name))
        self.venues = names
        per_symbol = {n: s for n, s in self.sources.items() if isinstance(s, PerSymbolOpenInterest)}
        self.open_interest = OpenInterestBook(
            per_symbol, self.clock, every_s=self.open_interest_every_s
        )

    async def close(self) -> None:
        """Stop an open-interest round in flight, close every venue's client."""
        await self.open_interest.close()
        await asyncio.gather(*(s.close() for s in self.sources.values()), return_exceptions=True)

    async def read_universe(self) -> tuple[list[Perp], dict[str, int], dict[str, str]]:
        """Every venue's perpetuals (concurrently), per-venue counts and failures."""
        names = list(self.sources)
        got = await asyncio.gather(*(self.sources[n].read() for n in names), return_exceptions=True)
        perps: list[Perp] = []
        counts: dict[str, int] = {}
        errors: dict[str, str] = {}
        for name, res in zip(names, got, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, Exception):
                    raise res
                errors[name] = f"{type(res).__name__}: {str(res)[:300]}"
                continue
            counts[name] = len(res)
            perps.extend(res)
        return perps, counts, errors

    async def _load_history(self, perp: Perp, now_ms: int, sem: asyncio.Semaphore) -> None:
        cached = self._history.get(perp.key)
        if cached is not None and now_ms < cached.valid_until_ms:
            return
        days = max(self.scan.windows_days, default=0)
        start = now_ms - days * DAY_MS - int(perp.interval_h * HOUR_MS)
        async with sem:
            rows = await self.sources[perp.venue].settled(perp, start, now_ms)
        until = perp.next_funding_ms or 0
        if until <= now_ms:  # not announced, or stale: the next instant of its interval grid
            step = int(perp.interval_h * HOUR_MS)
            until = (now_ms // step + 1) * step
        self._history[perp.key] = _Cached(SettledHistory(rows), until)

    def open_interest_round(self) -> asyncio.Task[None] | None:
        """The open-interest round in flight (its end is worth a refresh), or None."""
        task = self.open_interest.task
        return task if task is not None and not task.done() else None

    async def _read_open_interest(self, pairs: list[tuple[Perp, Perp]]) -> None:
        book = self.open_interest
        wanted = book.wanted(pairs)
        for _ in range(2):  # a round already in flight may not cover a newly matched one
            task = book.start(wanted)
            if task is None or not (self.wait_open_interest and book.unread(wanted)):
                break
            if self.on_wait is not None:
                n = sum(1 for k in wanted if k not in book.due_at)
                self.on_wait(f"reading the open interest of {n} matched symbols, one request each")
            await asyncio.shield(task)

    def histories(self) -> dict[tuple[str, str], SettledHistory]:
        """The cached settled histories by (venue, symbol)."""
        return {k: c.history for k, c in self._history.items()}

    async def refresh(self) -> ScanResult:
        """Read, rank, read the history of the best rows, rank again."""
        t0 = time.perf_counter()
        now = self.clock()
        perps, counts, errors = await self.read_universe()
        pairs = match(perps)
        await self._read_open_interest(pairs)
        ois = self.open_interest.figures
        rows = rank(pairs, self.scan, now, self.histories(), ois)
        warnings: list[str] = []
        if self.history_rows > 0 and rows:
            legs = {o.short.perp.key: o.short.perp for o in rows[: self.history_rows]}
            legs |= {o.long.perp.key: o.long.perp for o in rows[: self.history_rows]}
            sem = asyncio.Semaphore(HISTORY_CONCURRENCY)
            got = await asyncio.gather(
                *(self._load_history(p, now, sem) for p in legs.values()),
                return_exceptions=True,
            )
            for p, res in zip(legs.values(), got, strict=True):
                if isinstance(res, Exception):
                    warnings.append(
                        f"{p.venue} {p.symbol} history: {type(res).__name__}: {str(res)[:200]}"
                    )
            rows = rank(pairs, self.scan, now, self.histories(), ois)
        took = (time.perf_counter() - t0) * 1000
        return ScanResult(rows, counts, len(pairs), errors, now, took, self.histories(), warnings)
