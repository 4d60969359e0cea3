"""What a venue's scanner source gives (each venue's ``universe.py`` implements it, its plugin
exposes it as :attr:`core.venues.registry.VenuePlugin.open_universe`), and the wire helpers
the venues' universe readers share.

A source is opened per run (one ccxt client), read on a schedule or on demand, and closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from core.domain import timeutil
from core.domain.universe import Perp


class UniverseSource(Protocol):
    """One venue's perpetuals and their settled-rate history, over its public REST."""

    venue: str

    async def read(self) -> list[Perp]:
        """Every perpetual the venue lists and trades now. Raises ValueError naming the
        endpoint, symbol and field on a bad shape; ccxt's errors pass through."""
        ...

    async def settled(self, perp: Perp, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """(settlement ms, rate) of ``perp`` settled in [start_ms, end_ms]."""
        ...

    async def close(self) -> None:
        """Release the client."""
        ...


class VenueBusy(Exception):
    """The venue answered "too many requests" (HTTP 429) or banned the address (HTTP 418):
    ask it nothing more this round."""


@runtime_checkable
class PerSymbolOpenInterest(Protocol):
    """A source whose universe read leaves open interest unknown because the venue serves it
    per symbol only (Binance USD-M); the scanner asks it for the matched symbols only
    (:mod:`core.runtime.open_interest`)."""

    venue: str

    async def open_interest(self, symbol: str) -> tuple[float, int | None]:
        """(open interest in the symbol's contracts, the venue's time of the figure in ms or
        None). Raises :class:`VenueBusy` on a rate-limit answer, ValueError naming the symbol
        and field on a bad shape; ccxt's other errors pass through."""
        ...


def field(row: Mapping[str, Any], name: str, where: str) -> Any:
    """``row[name]``; ValueError ``"<where>: field <name> missing"`` when absent or empty."""
    try:
        value = row[name]
    except (KeyError, TypeError):
        raise ValueError(f"{where}: field {name!r} missing") from None
    if value is None or value == "":
        raise ValueError(f"{where}: field {name!r} missing")
    return value


def num(row: Mapping[str, Any], name: str, where: str) -> float:
    """``row[name]`` as a finite float; ValueError naming ``where`` and the field."""
    value = field(row, name, where)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: field {name!r} is {value!r}, not a number") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: field {name!r} is {value!r}")
    return out


def opt_num(row: Mapping[str, Any], name: str, where: str) -> float | None:
    """Like :func:`num`, None when the field is absent or ``""``."""
    if not isinstance(row, Mapping) or row.get(name) in (None, ""):
        return None
    return num(row, name, where)


def rows_of(body: Any, what: str) -> list[Mapping[str, Any]]:
    """``body`` as a list of JSON objects; ValueError naming ``what`` otherwise."""
    if not isinstance(body, list) or not all(isinstance(r, Mapping) for r in body):
        raise ValueError(f"{what}: expected a list of objects, got {type(body).__name__}")
    return body


def settled_rates(
    rows: list[Mapping[str, Any]], symbol: str, time_field: str, what: str
) -> list[tuple[int, float]]:
    """Settled-rate ``rows`` of ``symbol`` (rows naming another symbol are skipped) ->
    (settlement ms snapped to the whole hour, ``fundingRate``); ``ValueError`` naming
    ``what``, the row and the field on a bad value."""
    out = []
    for i, row in enumerate(rows):
        where = f"{what} row {i}"
        if row.get("symbol") not in (None, symbol):
            continue
        try:
            when = timeutil.normalise_settlement_ms(int(num(row, time_field, where)))
        except ValueError as exc:
            raise ValueError(f"{where}: field {time_field!r}: {exc}") from None
        out.append((when, num(row, "fundingRate", where)))
    return out
