"""Bybit v5 instruments over REST: ``GET /v5/market/instruments-info?category=linear|inverse``
(Bybit docs ``market/instrument``), through ccxt 4.5.90 ``bybit``'s documented implicit method
``public_get_v5_market_instruments_info``, and the ccxt client the Bybit REST readers share.

A row gives ``priceFilter.tickSize`` (price step, quote currency), ``lotSizeFilter.qtyStep``,
``minOrderQty`` (BTC for linear, contracts of 1 USD for inverse), ``minNotionalValue`` (quote
currency; linear only, ``""`` or absent on inverse = none), ``fundingInterval`` (an integer in
**minutes**: 480 = 8 h) and ``upperFundingRate``/``lowerFundingRate`` (the funding caps,
fractions). ccxt is pointed at another host only by rewriting ``urls['api']``
(:func:`core.venues.instruments.point_at`); nothing else of ccxt is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import msgspec

from core.domain.config import FeedSettings, Settings
from core.domain.events import InstrumentSpec
from core.venues.instruments import dec, point_at
from core.venues.registry import VenueSpecs

VENUE: Final = "bybit"
DEFAULT_REST: Final = "https://api.bybit.com"
MINUTE_MS: Final = 60_000
MAX_PAGES: Final = 20


def make_exchange(feeds: FeedSettings, *, asynchronous: bool = False) -> Any:
    """A ccxt ``bybit`` client at ``feeds.bybit_rest_url`` (public endpoints only), with
    ``rest_timeout_s`` as its timeout; its markets are loaded for linear and inverse only."""
    if asynchronous:
        import ccxt.async_support as ccxt_mod
    else:
        import ccxt as ccxt_mod
    ex = ccxt_mod.bybit(
        {
            "timeout": int(feeds.rest_timeout_s * 1000),
            "enableRateLimit": True,
            "options": {"fetchMarkets": {"types": ["linear", "inverse"]}},
        }
    )
    point_at(ex, feeds.bybit_rest_url, DEFAULT_REST)
    return ex


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """One instruments-info row, read: the spec fields, the funding interval (ms) and caps."""

    symbol: str
    kind: str
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal
    settle_currency: str
    quote: str
    funding_interval_ms: int | None
    upper_rate: Decimal | None
    lower_rate: Decimal | None
    status: str = ""
    """``Trading`` while the venue trades it (``PreLaunch``, ``Delivering``, ``Closed``...)."""


def _opt_dec(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    return dec(value, what)


def parse_instrument(row: Mapping[str, Any], kind: str) -> InstrumentInfo:
    """One row of ``result.list`` of category ``kind``. Raises ValueError naming the symbol
    and field when one is missing or not a number."""
    symbol = str(row.get("symbol") or "")
    try:
        price = row["priceFilter"]
        lots = row["lotSizeFilter"]
        minutes = row.get("fundingInterval")
        interval = int(minutes) * MINUTE_MS if minutes not in (None, "", 0, "0") else None
        if interval is not None and not 0 < interval <= 24 * 60 * MINUTE_MS:
            raise ValueError(f"fundingInterval {minutes} min out of range")
        return InstrumentInfo(
            symbol=symbol,
            kind=kind,
            tick=dec(price.get("tickSize"), "priceFilter.tickSize"),
            lot=dec(lots.get("qtyStep"), "lotSizeFilter.qtyStep"),
            min_qty=dec(lots.get("minOrderQty"), "lotSizeFilter.minOrderQty"),
            min_notional=_opt_dec(lots.get("minNotionalValue"), "minNotionalValue") or Decimal(0),
            settle_currency=str(row.get("settleCoin") or ""),
            quote=str(row.get("quoteCoin") or ""),
            funding_interval_ms=interval,
            upper_rate=_opt_dec(row.get("upperFundingRate"), "upperFundingRate"),
            lower_rate=_opt_dec(row.get("lowerFundingRate"), "lowerFundingRate"),
            status=str(row.get("status") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"instruments-info {kind} {symbol!r}: {type(exc).__name__}: {exc}"
        ) from None


def parse_instruments(body: Mapping[str, Any], kind: str) -> tuple[list[InstrumentInfo], str]:
    """A whole instruments-info answer -> (rows, nextPageCursor). Raises ValueError on a
    non-zero ``retCode`` or a bad row."""
    code = body.get("retCode")
    if code not in (0, "0"):
        raise ValueError(f"instruments-info {kind}: retCode {code} {body.get('retMsg')!r}")
    result = body.get("result") or {}
    rows = [parse_instrument(r, kind) for r in result.get("list") or []]
    return rows, str(result.get("nextPageCursor") or "")


def read_instruments(client: Any, kind: str, symbols: Iterable[str] = ()) -> list[InstrumentInfo]:
    """Every instrument of ``kind`` (or only ``symbols``) through a sync ccxt ``bybit``."""
    wanted = list(symbols)
    out: list[InstrumentInfo] = []
    if len(wanted) == 1:
        body = client.public_get_v5_market_instruments_info({"category": kind, "symbol": wanted[0]})
        return parse_instruments(body, kind)[0]
    cursor = ""
    for _ in range(MAX_PAGES):
        req = {"category": kind, "limit": 1000} | ({"cursor": cursor} if cursor else {})
        rows, cursor = parse_instruments(client.public_get_v5_market_instruments_info(req), kind)
        out.extend(rows)
        if not cursor or not rows:
            break
    return [r for r in out if not wanted or r.symbol in wanted]


def spec_from_info(info: InstrumentInfo, fallback: InstrumentSpec) -> InstrumentSpec:
    """``fallback`` (the config's spec) with the venue's tick, lot, minimums and currencies.
    Contract size stays the config's (linear: 1 BTC; inverse: 1 USD, Bybit help "What is
    Inverse Contract?"); fees stay the config's (instruments-info has none)."""
    if info.kind != fallback.kind:
        raise ValueError(f"{info.symbol}: venue says {info.kind}, config says {fallback.kind}")
    return msgspec.structs.replace(
        fallback,
        tick=info.tick,
        lot=info.lot,
        min_qty=info.min_qty,
        min_notional=info.min_notional,
        settle_currency=info.settle_currency or fallback.settle_currency,
        quote=info.quote or fallback.quote,
    )


def load_specs(settings: Settings, specs: list[InstrumentSpec]) -> VenueSpecs:
    """``specs`` refreshed from instruments-info (those the venue lists), one request per
    kind in use, and those whose ``status`` is not ``Trading`` (``PreLaunch``, ``Delivering``,
    ``Closed``: Bybit v5 "Get Instruments Info"). Blocking; raises on a network or shape
    error (the caller falls back to the config)."""
    client = make_exchange(settings.feeds)
    out = VenueSpecs([])
    for kind in sorted({s.kind for s in specs}):
        mine = [s for s in specs if s.kind == kind]
        infos = {i.symbol: i for i in read_instruments(client, kind, [s.symbol for s in mine])}
        out.specs.extend(spec_from_info(infos[s.symbol], s) for s in mine if s.symbol in infos)
        out.not_trading.update(
            (i.symbol, f"status {i.status or 'missing'} (instruments-info {kind})")
            for i in infos.values()
            if i.status != "Trading"
        )
    return out
