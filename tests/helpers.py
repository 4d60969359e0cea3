"""Small builders for engine tests: events at given UTC times, settings overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import msgspec

from core.domain.config import Settings
from core.domain.events import Bar, Event, FundingSettled

HOUR = 3_600_000


def ts(iso: str) -> int:
    """UTC ms of an ISO time such as ``2024-01-01T08:00``."""
    return int(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp() * 1000)


def bar(venue: str, symbol: str, close_iso: str, price: float) -> Bar:
    """A 1 m bar closing 1 ms before ``close_iso`` at a flat ``price``."""
    end = ts(close_iso)
    return Bar(
        ts_ms=end - 1,
        venue=venue,
        symbol=symbol,
        open_ts_ms=end - 60_000,
        interval_ms=60_000,  # type: ignore[arg-type]
        open=price,
        high=price,
        low=price,
        close=price,
    )


def settle(venue: str, symbol: str, iso: str, rate: str, interval_h: int = 8) -> FundingSettled:
    """A settlement at ``iso`` of ``rate`` covering ``interval_h`` hours."""
    return FundingSettled(
        ts_ms=ts(iso),
        venue=venue,
        symbol=symbol,
        rate=Decimal(rate),
        interval_ms=interval_h * HOUR,  # type: ignore[arg-type]
    )


def with_overrides(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with some fields of some sections replaced, e.g.
    ``with_overrides(s, risk={"drawdown_limit_pct": 1.0})``."""
    changes = {}
    for name, fields in sections.items():
        changes[name] = msgspec.structs.replace(getattr(settings, name), **fields)
    return msgspec.structs.replace(settings, **changes)


def instants(events: Iterable[Event]) -> Iterator[list[Event]]:
    """``events`` (in replay order) grouped into instants, one list per ``ts_ms``, as the
    drive hands them to ``Engine.on_instant``."""
    batch: list[Event] = []
    for ev in events:
        if batch and ev.ts_ms != batch[0].ts_ms:
            yield batch
            batch = []
        batch.append(ev)
    if batch:
        yield batch
