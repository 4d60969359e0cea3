"""Normalised market events: the engine's only input, and the body of a replay file.

Every event carries ``ts_ms``, the UTC instant (ms since the epoch) at which the information
became known. A replay file is JSON lines: one :class:`ReplayHeader` line, then events in
``(ts_ms, ORDER[type])`` order. Decoding goes through msgspec typed structs (DESIGN: "decode
with msgspec or orjson"); this module depends on nothing else in the project.

Replay format, version 1 (one JSON object per line, optionally gzip-compressed)::

    {"type":"header","format":"arbtui-replay","version":1,"instruments":[...],...}
    {"type":"bar","ts_ms":1583024399999,"venue":"binance","symbol":"BTCUSDT",
     "open_ts_ms":1583020800000,"interval_ms":3600000,"open":8532.5,"high":8618.47,
     "low":8526.0,"close":8554.99,"volume":7585.961}
    {"type":"funding","ts_ms":1583078400000,"venue":"binance","symbol":"BTCUSDT",
     "rate":"0.00031033","interval_ms":28800000,"raw_ts":"1583078400001"}
    {"type":"funding_rate","ts_ms":1583049600000,"venue":"bitmex","symbol":"XBTUSD",
     "rate":"-0.00375","settlement_ts_ms":1583078400000,"interval_ms":28800000,"fixed":true}

A bar is known at its close, so its ``ts_ms`` is ``open_ts_ms + interval_ms - 1`` (Binance's
kline close-time convention); a settlement at 08:00:00.000 therefore sees the position that the
bar closing at 07:59:59.999 left. ``funding`` is a settlement: the rate paid at ``ts_ms`` (the
settlement instant with exchange jitter removed; ``raw_ts`` keeps the exchange's own string).
``funding_rate`` is a rate seen before its settlement: ``fixed`` true for BitMEX ``fundingRate``
(fixed one interval ahead), false for an estimate (Binance markPrice ``r``, BitMEX
``indicativeFundingRate``). Settled and seen-ahead rates never share a type.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

Venue = str
"""A registered venue's name (``core.venues.registry``); the domain never names one."""

Price = Annotated[float, msgspec.Meta(gt=0)]
"""A price in quote currency: decoding refuses 0, a negative or an out-of-range number with
the field named (a price of 0 would reach the engine's log returns and valuations)."""

IntervalMs = Annotated[int, msgspec.Meta(gt=0)]
"""A bar's or a funding interval's length in ms: decoding refuses 0 or less."""

#: Tie-break at equal ``ts_ms``: prices first, then settlements, then next-rate announcements.
ORDER: dict[str, int] = {"bar": 0, "quote": 0, "funding": 1, "funding_rate": 2}


class InstrumentSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Contract specification of one instrument on one venue.

    ``kind`` is ``"linear"`` (quantity in base units: BTC for BTCUSDT, or contracts of
    ``contract_size`` BTC for BitMEX XBTUSDT = 1e-6 XBT) or ``"inverse"`` (contracts of
    ``contract_size`` USD, PnL and funding in XBT: BitMEX XBTUSD). ``tick`` is the price
    increment (USD or USDT), ``lot`` the order quantity step in the venue's own unit (BTC or
    contracts), ``min_notional`` in ``quote`` currency (0 = none), fees are fractions
    (0.0005 = 0.05 %). ``settle_currency`` is where PnL and funding land (USDT, XBT).
    """

    venue: Venue
    symbol: str
    kind: Literal["linear", "inverse"]
    contract_size: Decimal
    tick: Decimal
    lot: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    settle_currency: str = "USDT"
    quote: str = "USDT"


class SourceFile(msgspec.Struct, frozen=True, kw_only=True):
    """One input file of an import: its name, detected layout and counts."""

    file: str
    layout: str
    venue: Venue
    symbol: str
    rows: int
    events: int
    skipped: int = 0


class ReplayHeader(msgspec.Struct, frozen=True, kw_only=True, tag="header", tag_field="type"):
    """First line of a replay file."""

    format: str = "arbtui-replay"
    version: int = 1
    instruments: list[InstrumentSpec]
    start_ts_ms: int
    end_ts_ms: int
    events: int
    sources: list[SourceFile] = []
    created_by: str = "arbtui import"


class Bar(msgspec.Struct, frozen=True, kw_only=True, tag="bar", tag_field="type"):
    """An OHLCV bar, known at its close. Prices in quote currency (USD, USDT); ``volume`` in
    the venue's unit (BTC for Binance klines, USD contracts for BitMEX bins), may be None."""

    ts_ms: int
    venue: Venue
    symbol: str
    open_ts_ms: int
    interval_ms: IntervalMs
    open: Price
    high: Price
    low: Price
    close: Price
    volume: float | None = None


class Quote(msgspec.Struct, frozen=True, kw_only=True, tag="quote", tag_field="type"):
    """A live price update: mark and index price and best bid/ask, any of which may be None
    (absent from that message). Prices in quote currency."""

    ts_ms: int
    venue: Venue
    symbol: str
    mark: Price | None = None
    index: Price | None = None
    bid: Price | None = None
    ask: Price | None = None


class FundingSettled(msgspec.Struct, frozen=True, kw_only=True, tag="funding", tag_field="type"):
    """A funding settlement at ``ts_ms``: positions held at that instant pay ``rate`` (a
    positive rate means longs pay shorts). ``interval_ms`` is the interval this rate covers;
    ``mark_price`` is the venue's settlement mark when the source has it (else None: the
    engine uses its latest mark). ``raw_ts``/``raw_rate`` keep the exchange's strings.
    The position charged is the one held at the settlement instant, not when the event
    arrives (HAZARDS H2, H4)."""

    ts_ms: int
    venue: Venue
    symbol: str
    rate: Decimal
    interval_ms: IntervalMs
    mark_price: Decimal | None = None
    raw_ts: str = ""
    raw_rate: str = ""
    settlement_ts_ms: int | None = None
    """The settlement instant when it is earlier than ``ts_ms`` (a live feed learns of a
    settlement after it happened); None = ``ts_ms`` is the instant (replay files)."""


class FundingRate(msgspec.Struct, frozen=True, kw_only=True, tag="funding_rate", tag_field="type"):
    """A funding rate seen at ``ts_ms`` for the settlement at ``settlement_ts_ms``.
    ``fixed`` is True when the venue has fixed it (BitMEX ``fundingRate``), False for an
    estimate that may still move (Binance markPrice ``r``, BitMEX ``indicativeFundingRate``)."""

    ts_ms: int
    venue: Venue
    symbol: str
    rate: Decimal
    settlement_ts_ms: int
    interval_ms: IntervalMs
    fixed: bool


Event = Bar | Quote | FundingSettled | FundingRate
ReplayLine = ReplayHeader | Bar | Quote | FundingSettled | FundingRate


def bad_price(ev: Event) -> str | None:
    """Why a live event may not reach the engine (None = it may): a price of 0 or less, or
    not finite. Decoding a replay line checks the same (:data:`Price`); an event built in
    code (a live feed's parser) is checked here, at the one door into the engine."""
    if type(ev) is Quote:
        for name in ("mark", "index", "bid", "ask"):
            v = getattr(ev, name)
            if v is not None and not 0 < v < math.inf:
                return f"{name} {v!r} is not a price > 0"
    elif type(ev) is Bar:
        for name in ("open", "high", "low", "close"):
            v = getattr(ev, name)
            if not 0 < v < math.inf:
                return f"{name} {v!r} is not a price > 0"
    return None


def sort_key(ev: Event) -> tuple[int, int]:
    """Total order of events in a replay: time, then :data:`ORDER` of the type."""
    return (ev.ts_ms, ORDER[type(ev).__struct_config__.tag])  # type: ignore[index]


_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder: msgspec.json.Decoder[ReplayLine] = msgspec.json.Decoder(ReplayLine)


_NULL_SETTLEMENT = b',"settlement_ts_ms":null}'


def encode(obj: ReplayLine) -> bytes:
    """One replay line as JSON bytes (no newline). Decimals are written as strings. A
    settlement whose instant is its ``ts_ms`` (``settlement_ts_ms`` None: every replay file's)
    is written without that field, as before the field existed, so that a rebuild of an older
    file gives the same bytes (replays/README.md)."""
    data = _encoder.encode(obj)
    if type(obj) is FundingSettled and obj.settlement_ts_ms is None:
        if data.endswith(_NULL_SETTLEMENT):
            data = data[: -len(_NULL_SETTLEMENT)] + b"}"
    return data


def decode_lines(data: bytes | memoryview) -> list[ReplayLine]:
    """Decode newline-delimited replay lines in one call (fast path of the replay reader)."""
    return _decoder.decode_lines(data)


def decode(line: bytes | str) -> ReplayLine:
    """Decode one replay line. Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError``
    with the offending field named in the message."""
    return _decoder.decode(line)
