"""Open interest that a venue serves per symbol only (Binance USD-M ``/fapi/v1/openInterest``),
for the scanner's filter and columns: asked for the **matched** perpetuals only, on a slower
schedule than the rates, cached between rounds, converted to USD at each refresh's mark.

Schedule: a perpetual is due when it has never been read, :data:`EVERY_S` after its last good
read, :data:`RETRY_S` after a failed one. A round asks every due perpetual, at most
:data:`CONCURRENCY` requests in flight; each request also passes the source client's own
throttle (ccxt ``enableRateLimit``: Binance's ``openInterest`` costs weight 1 of ccxt's
20 a second, shared with the universe's other calls). A rate-limit answer (HTTP 429/418,
:class:`~core.venues.universe.VenueBusy`) stops the round for that venue: the rest are not
asked and are due again after :data:`EVERY_S`. Only one round runs at a time.

The figures (:attr:`OpenInterestBook.figures`, by (venue, symbol)) go to the ranking as they
are (:func:`core.domain.scan.rank`), which converts them to USD at each refresh's mark: nothing
is copied per refresh. A perpetual that was not asked yet, or whose reads failed with no good
read in the last :data:`KEEP_S`, has its open interest unknown with the reason
(:attr:`core.domain.universe.OpenInterest.note`); a good figure that failed to refresh stays,
its note saying so. A perpetual is never dropped here (the ranking keeps and marks it,
:attr:`core.domain.scan.Opportunity.oi_unchecked`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.domain.universe import OpenInterest, Perp
from core.venues.universe import PerSymbolOpenInterest, VenueBusy

#: Seconds between two good reads of one perpetual's open interest.
EVERY_S = 300.0
#: Seconds before a failed read is tried again.
RETRY_S = 60.0
#: Seconds a good figure stays shown after its re-reads failed (its age is shown with it).
KEEP_S = 3 * EVERY_S
#: Open-interest requests in flight at once (all venues together).
CONCURRENCY = 4
NOT_READ = "not read yet"
NOT_READ_YET = OpenInterest(None, None, NOT_READ)

Key = tuple[str, str]


@dataclass
class OpenInterestBook:
    """See the module docstring. ``sources``: venue -> its per-symbol source; ``clock``: UTC
    ms (the scanner's)."""

    sources: Mapping[str, PerSymbolOpenInterest]
    clock: Callable[[], int]
    every_s: float = EVERY_S
    retry_s: float = RETRY_S
    concurrency: int = CONCURRENCY
    figures: dict[Key, OpenInterest] = field(default_factory=dict)
    """The last read of every perpetual asked for (or ``not read yet``)."""
    due_at: dict[Key, int] = field(default_factory=dict)
    """When to ask each one again (local clock, ms)."""
    good_at: dict[Key, int] = field(default_factory=dict)
    """When each one was last read well (local clock, ms)."""
    asked: int = 0
    """Requests sent so far (all rounds)."""
    task: asyncio.Task[None] | None = None
    """The round in flight, if any."""

    def wanted(self, pairs: Iterable[tuple[Perp, Perp]]) -> list[Key]:
        """The matched perpetuals whose venue serves open interest per symbol and whose
        universe read left it unknown, by (venue, symbol), each once."""
        out: dict[Key, None] = {}
        for pair in pairs:
            for p in pair:
                if p.venue in self.sources and p.open_interest_usd is None:
                    out[p.key] = None
        return list(out)

    def unread(self, keys: Iterable[Key]) -> bool:
        """True when one of ``keys`` has never been read (nor failed)."""
        return any(k not in self.due_at for k in keys)

    def due(self, keys: Iterable[Key], now_ms: int) -> list[Key]:
        """Those of ``keys`` never read or due again at ``now_ms``."""
        return [k for k in keys if now_ms >= self.due_at.get(k, now_ms)]

    def start(self, keys: Iterable[Key]) -> asyncio.Task[None] | None:
        """Start a round for the due ones of ``keys`` unless one is running (returned then)
        or none is due (None). A key never seen shows ``not read yet`` until read."""
        for k in keys:
            self.figures.setdefault(k, NOT_READ_YET)
        if self.task is not None and not self.task.done():
            return self.task
        due = self.due(keys, self.clock())
        if not due:
            return None
        self.task = asyncio.get_running_loop().create_task(self.read(due))
        return self.task

    async def read(self, keys: Sequence[Key]) -> None:
        """One round over ``keys`` (see the module docstring); never raises for a symbol."""
        sem = asyncio.Semaphore(self.concurrency)
        busy: dict[str, str] = {}
        await asyncio.gather(*(self._one(k, sem, busy) for k in keys))

    async def _one(self, key: Key, sem: asyncio.Semaphore, busy: dict[str, str]) -> None:
        venue, symbol = key
        async with sem:
            now = self.clock()
            if venue in busy:
                self._failed(key, now, f"not asked: {busy[venue]}", self.every_s)
                return
            self.asked += 1
            try:
                contracts, at_ms = await self.sources[venue].open_interest(symbol)
            except VenueBusy as exc:
                busy[venue] = f"{venue} rate limited ({exc})"
                self._failed(key, now, f"rate limited: {exc}", self.every_s)
            except Exception as exc:
                self._failed(key, now, f"{type(exc).__name__}: {str(exc)[:200]}", self.retry_s)
            else:
                self.figures[key] = OpenInterest(contracts, at_ms or now)
                self.good_at[key] = now
                self.due_at[key] = now + int(self.every_s * 1000)

    def _failed(self, key: Key, now_ms: int, why: str, again_s: float) -> None:
        """A read that failed: the last good figure stays (with its age and ``why`` in its
        note) while it was read less than :data:`KEEP_S` ago; else the figure is unknown."""
        last = self.figures.get(key)
        young = now_ms - self.good_at.get(key, now_ms - KEEP_S * 1000) < KEEP_S * 1000
        if last is not None and last.contracts is not None and young:
            self.figures[key] = OpenInterest(last.contracts, last.at_ms, f"re-read failed: {why}")
        else:
            self.figures[key] = OpenInterest(None, None, why)
        self.due_at[key] = now_ms + int(again_s * 1000)

    async def close(self) -> None:
        """Cancel a round in flight."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
