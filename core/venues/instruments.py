"""Instrument specs at start-up from the venues' REST endpoints (each venue's plugin reads and
converts its own; see :class:`core.venues.registry.VenuePlugin.load_specs`), with the config's
values as the offline fallback, plus the helpers the venue packages share for it.

Only the host of every ccxt ``urls['api']`` entry is changed, and only when the config names
another host than the venue's own (tests: 127.0.0.1). Nothing else of ccxt is touched.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from core.domain.config import Settings
from core.domain.events import InstrumentSpec
from core.venues import registry
from core.venues.registry import VenueSpecs


def point_at(exchange: Any, base: str, default: str) -> None:
    """Rewrite every ``exchange.urls['api']`` entry to ``base`` + its path, unless ``base``
    is the venue's own host. Nothing else of ccxt is touched."""
    if base.rstrip("/") == default.rstrip("/"):
        return
    api = exchange.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str):
            api[key] = base.rstrip("/") + urlsplit(url).path


def dec(value: Any, what: str) -> Decimal:
    """``value`` (str, int or float from a venue's JSON) as a finite Decimal, integral values
    without exponent. Raises ValueError naming ``what`` when missing or not finite."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"{what} missing")
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"{what} is {value!r}")
    return Decimal(int(d)) if d == d.to_integral_value() else d.normalize()


@dataclass(frozen=True)
class SpecsResult:
    """The specs to trade with (by instrument id), where each came from (``"rest"`` or
    ``"config"``), one line per instrument saying so, and ``not_trading``: instrument id ->
    why, for those a venue that was read does not trade now (its status, or not listed;
    HAZARDS H23)."""

    specs: dict[str, InstrumentSpec]
    sources: dict[str, str]
    notes: list[str]
    not_trading: dict[str, str] = field(default_factory=dict)


def _load_venue(settings: Settings, venue: str, specs: list[InstrumentSpec]) -> VenueSpecs:
    load = registry.plugin(venue).load_specs
    if load is None:
        raise RuntimeError(f"{venue} has no REST spec source")
    return load(settings, specs)


def load_instrument_specs(settings: Settings, *, ids: list[str] | None = None) -> SpecsResult:
    """Specs for the instruments ``ids`` (default: every configured one) from the venues,
    falling back to the config per instrument when a venue cannot be read or does not list
    the symbol. Never raises for a venue problem: the notes say what was used and why; the
    instruments a venue does not list or does not trade now are in ``not_trading``."""
    wanted = {i: settings.instruments[i] for i in (ids or list(settings.instruments))}
    venues = sorted({s.venue for s in wanted.values()})
    results: dict[str, VenueSpecs | Exception] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(venues))) as pool:
        futures = {
            v: pool.submit(_load_venue, settings, v, [s for s in wanted.values() if s.venue == v])
            for v in venues
        }
        for v, fut in futures.items():
            try:
                results[v] = fut.result()
            except Exception as exc:  # offline, refused, bad answer: fall back, say why
                results[v] = exc
    specs = dict(settings.instruments)
    sources = {i: "config" for i in specs}
    notes = []
    not_trading: dict[str, str] = {}
    for iid, spec in wanted.items():
        res = results[spec.venue]
        host = f"{spec.venue} REST"
        where = f"{spec.venue} {spec.symbol} ({iid})"
        if isinstance(res, Exception):
            notes.append(
                f"{where}: specs from the config ({host} not read: "
                f"{type(res).__name__}: {str(res)[:160]})"
            )
            continue
        found = next((s for s in res.specs if s.symbol == spec.symbol), None)
        if found is None:
            notes.append(f"{where}: specs from the config ({host} does not list {spec.symbol})")
            not_trading[iid] = f"not listed by {host}"
            continue
        if spec.symbol in res.not_trading:
            not_trading[iid] = res.not_trading[spec.symbol]
        specs[iid] = found
        sources[iid] = "rest"
        s = specs[iid]
        notes.append(
            f"{where}: specs from the venue ({host}): tick {s.tick}, lot {s.lot}, contract "
            f"{s.contract_size}, {s.kind}, taker {s.taker_fee}, maker {s.maker_fee}"
        )
    return SpecsResult(specs, sources, notes, not_trading)
