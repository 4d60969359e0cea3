"""Instrument specs at start-up from the venues' REST endpoints through ccxt (tick, lot,
contract size, inverse flag, fees), with the config's values as the offline fallback.

Sources: ccxt 4.5.83 ``binanceusdm.fetch_markets`` (``GET /fapi/v1/exchangeInfo``: PRICE_FILTER
tickSize, LOT_SIZE stepSize/minQty, MIN_NOTIONAL notional) and ``bitmex.fetch_markets``
(``GET /api/v1/instrument/active``: ``tickSize``, ``lotSize``, ``multiplier``,
``underlyingToPositionMultiplier``, ``isInverse``, ``makerFee``, ``takerFee``, ``settlCurrency``).
BitMEX contract sizes come from the raw instrument (ccxt reports XBTUSD's multiplier, not the
1 USD a contract is worth). Only the host of every ccxt ``urls['api']`` entry is changed, and
only when the config names another host than the venue's own (tests: 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec

from core.domain.config import FeedSettings, Settings
from core.domain.events import InstrumentSpec

DEFAULT_HOSTS = {"binance": "https://fapi.binance.com", "bitmex": "https://www.bitmex.com"}
_XBT = {"XBt": "XBT", "XBT": "XBT", "USDt": "USDT", "USDT": "USDT"}


def rest_base(venue: str, feeds: FeedSettings) -> str:
    """The configured REST host of ``venue`` (no trailing slash)."""
    url = feeds.binance_rest_url if venue == "binance" else feeds.bitmex_rest_url
    return url.rstrip("/")


def point_at(exchange: Any, base: str, default: str) -> None:
    """Rewrite every ``exchange.urls['api']`` entry to ``base`` + its path, unless ``base``
    is the venue's own host. Nothing else of ccxt is touched."""
    if base == default:
        return
    api = exchange.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str):
            api[key] = base + urlsplit(url).path


def make_exchange(venue: str, feeds: FeedSettings, *, asynchronous: bool = False) -> Any:
    """A ccxt client of ``venue`` ("binance" -> binanceusdm, "bitmex") at the configured
    host, with ``rest_timeout_s`` as its timeout."""
    if asynchronous:
        import ccxt.async_support as ccxt_mod
    else:
        import ccxt as ccxt_mod
    cls = ccxt_mod.binanceusdm if venue == "binance" else ccxt_mod.bitmex
    ex = cls({"timeout": int(feeds.rest_timeout_s * 1000), "enableRateLimit": True})
    point_at(ex, rest_base(venue, feeds), DEFAULT_HOSTS[venue])
    return ex


def _dec(value: Any, what: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise ValueError(f"{what} missing")
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"{what} is {value!r}")
    return Decimal(int(d)) if d == d.to_integral_value() else d.normalize()


def spec_from_binance(market: dict[str, Any], fallback: InstrumentSpec) -> InstrumentSpec:
    """An :class:`InstrumentSpec` from a ccxt binanceusdm market. Raises ValueError naming
    the missing field."""
    if not market.get("linear"):
        raise ValueError(f"{market.get('id')} is not a linear contract")
    limits = market.get("limits") or {}
    return msgspec.structs.replace(
        fallback,
        kind="linear",
        contract_size=_dec(market.get("contractSize") or 1, "contractSize"),
        tick=_dec(market["precision"]["price"], "precision.price"),
        lot=_dec(market["precision"]["amount"], "precision.amount"),
        min_qty=_dec((limits.get("amount") or {}).get("min") or 0, "limits.amount.min"),
        min_notional=_dec((limits.get("cost") or {}).get("min") or 0, "limits.cost.min"),
        maker_fee=_dec(market.get("maker"), "maker"),
        taker_fee=_dec(market.get("taker"), "taker"),
        settle_currency=str(market.get("settle") or fallback.settle_currency),
        quote=str(market.get("quote") or fallback.quote),
    )


def spec_from_bitmex(market: dict[str, Any], fallback: InstrumentSpec) -> InstrumentSpec:
    """An :class:`InstrumentSpec` from a ccxt bitmex market (raw instrument in ``info``)."""
    info = market.get("info") or {}
    inverse = bool(info.get("isInverse"))
    if inverse:
        mult = abs(_dec(info.get("multiplier"), "multiplier"))
        size = mult / Decimal(100_000_000)  # XBt per contract at a price of 1: USD per contract
    else:
        per = info.get("underlyingToPositionMultiplier")
        if per is None:
            raise ValueError(f"{info.get('symbol')}: no underlyingToPositionMultiplier")
        size = Decimal(1) / _dec(per, "underlyingToPositionMultiplier")
    lot = _dec(info.get("lotSize"), "lotSize")
    settle = str(info.get("settlCurrency") or "")
    return msgspec.structs.replace(
        fallback,
        kind="inverse" if inverse else "linear",
        contract_size=Decimal(int(size)) if size == size.to_integral_value() else size,
        tick=_dec(info.get("tickSize"), "tickSize"),
        lot=lot,
        min_qty=lot,
        maker_fee=_dec(info.get("makerFee"), "makerFee"),
        taker_fee=_dec(info.get("takerFee"), "takerFee"),
        settle_currency=_XBT.get(settle, fallback.settle_currency),
        quote=str(info.get("quoteCurrency") or fallback.quote),
    )


@dataclass(frozen=True)
class SpecsResult:
    """The specs to trade with (by instrument id), where each came from (``"rest"`` or
    ``"config"``) and one line per instrument saying so."""

    specs: dict[str, InstrumentSpec]
    sources: dict[str, str]
    notes: list[str]


Fetcher = Callable[[str, FeedSettings], list[dict[str, Any]]]


def fetch_markets(venue: str, feeds: FeedSettings) -> list[dict[str, Any]]:
    """ccxt ``fetch_markets`` of ``venue`` (blocking; bounded by ``rest_timeout_s``)."""
    markets: list[dict[str, Any]] = make_exchange(venue, feeds).fetch_markets()
    return markets


def load_instrument_specs(
    settings: Settings, *, ids: list[str] | None = None, fetch: Fetcher = fetch_markets
) -> SpecsResult:
    """Specs for the instruments ``ids`` (default: every configured one) from the venues,
    falling back to the config per instrument when a venue cannot be read or does not list
    the symbol. Never raises for a venue problem: the notes say what was used and why."""
    wanted = {i: settings.instruments[i] for i in (ids or list(settings.instruments))}
    venues = sorted({s.venue for s in wanted.values()})
    results: dict[str, list[dict[str, Any]] | Exception] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(venues))) as pool:
        futures = {v: pool.submit(fetch, v, settings.feeds) for v in venues}
        for v, fut in futures.items():
            try:
                results[v] = fut.result()
            except Exception as exc:  # offline, refused, bad answer: fall back, say why
                results[v] = exc
    specs = dict(settings.instruments)
    sources = {i: "config" for i in specs}
    notes = []
    for iid, spec in wanted.items():
        res = results[spec.venue]
        host = rest_base(spec.venue, settings.feeds)
        where = f"{spec.venue} {spec.symbol} ({iid})"
        if isinstance(res, Exception):
            notes.append(
                f"{where}: specs from the config (venue REST {host} not read: "
                f"{type(res).__name__}: {str(res)[:160]})"
            )
            continue
        market = next((m for m in res if m.get("id") == spec.symbol), None)
        if market is None:
            notes.append(f"{where}: specs from the config ({host} does not list {spec.symbol})")
            continue
        try:
            conv = spec_from_binance if spec.venue == "binance" else spec_from_bitmex
            specs[iid] = conv(market, spec)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            notes.append(f"{where}: specs from the config (venue answer unusable: {exc})")
            continue
        sources[iid] = "rest"
        s = specs[iid]
        notes.append(
            f"{where}: specs from the venue ({host}): tick {s.tick}, lot {s.lot}, contract "
            f"{s.contract_size}, {s.kind}, taker {s.taker_fee}, maker {s.maker_fee}"
        )
    return SpecsResult(specs, sources, notes)
