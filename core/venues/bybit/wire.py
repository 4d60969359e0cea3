"""Bybit v5 public WebSocket wire format: decoding frames and merging ticker / level-1 book
deltas into the state the feed publishes from. Pure functions and plain classes, no I/O.

Frames (Bybit docs ``websocket/public/ticker``, ``websocket/public/orderbook``, ``ws/connect``):

- data: ``{"topic": "tickers.BTCUSDT", "type": "snapshot"|"delta", "data": {...}, "cs": <cross
  sequence>, "ts": <ms>}``. A ticker delta carries only the fields that changed ("If a response
  param is not found in the message, then its value has not changed"). Numbers are strings;
  ``""`` is a missing value (a futures ticker has ``"fundingRate": ""`` and
  ``"nextFundingTime": ""``). Ticker fields read here: ``markPrice``, ``indexPrice``,
  ``bid1Price``, ``ask1Price`` (quote currency: USDT for linear, USD for inverse),
  ``fundingRate`` (the estimate for ``nextFundingTime``, ms), ``fundingIntervalHour`` (whole
  hours, perpetuals only, absent before ~2024) and ``fundingCap`` (the +/- limit).
- ``orderbook.1.<symbol>``: ``data`` has ``s``, ``b``/``a`` as ``[[price, size], ...]``, ``u``
  (update id) and ``seq``; a delta's empty side is unchanged, size ``"0"`` removes the level.
- control (linear/inverse): subscribe ack ``{"success": true, "ret_msg": "", "conn_id": ..,
  "req_id": .., "op": "subscribe"}``, refusal ``"success": false`` with the reason in
  ``ret_msg``; pong ``{"success": true, "ret_msg": "pong", .., "op": "ping"}`` (option/private
  channels answer ``{"op": "pong", "args": ["<ms>"]}``, also accepted).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

HOUR_MS: Final = 3_600_000

TICKERS: Final = "tickers."
BOOK1: Final = "orderbook.1."


class Frame(msgspec.Struct):
    """Any frame of a public v5 connection: data frames have ``topic``; control frames have
    ``op`` (and ``success``/``ret_msg``). ``data`` is decoded by the topic's own struct."""

    topic: str = ""
    type: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")
    cs: int = 0
    ts: int = 0
    op: str = ""
    success: bool | None = None
    ret_msg: str = ""
    req_id: str = ""


class TickerData(msgspec.Struct):
    """The fields of a linear/inverse ticker this console reads (None = absent from this
    frame, i.e. unchanged in a delta; ``""`` = no value)."""

    symbol: str
    markPrice: str | None = None
    indexPrice: str | None = None
    bid1Price: str | None = None
    ask1Price: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None
    fundingIntervalHour: str | None = None
    fundingCap: str | None = None


class BookData(msgspec.Struct):
    """``orderbook.1`` data: best bid ``b`` and ask ``a`` levels ``[price, size]``."""

    s: str
    b: list[list[str]] = []
    a: list[list[str]] = []
    u: int = 0
    seq: int = 0


_frame = msgspec.json.Decoder(Frame)
_ticker = msgspec.json.Decoder(TickerData)
_book = msgspec.json.Decoder(BookData)


def decode_frame(frame: bytes | str) -> Frame:
    """Decode one frame's envelope. Raises ``msgspec.DecodeError``/``ValidationError``."""
    return _frame.decode(frame)


def decode_ticker(raw: msgspec.Raw) -> TickerData:
    """Decode a ``tickers`` frame's ``data``."""
    return _ticker.decode(raw)


def decode_book(raw: msgspec.Raw) -> BookData:
    """Decode an ``orderbook.1`` frame's ``data``."""
    return _book.decode(raw)


def num(text: str | None, field: str) -> float | None:
    """A decimal string as float; None for absent or ``""``. Raises ValueError naming the
    field for anything else that is not a number."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"field {field}: {text!r} is not a number") from None


def is_pong(f: Frame) -> bool:
    """A heartbeat answer, in any of the documented shapes (``ws/connect``)."""
    return f.op == "pong" or (f.op == "ping" and f.ret_msg == "pong")


class TickerState:
    """The merged ticker of one symbol: the snapshot, then every delta's fields laid over it.
    Prices are floats in quote currency (None = no value); ``rate`` is the wire string of the
    funding estimate (``""`` = none). Every field of a frame is checked before any is applied,
    so a bad frame leaves the state as it was. ``seq`` is the last applied ``cs``."""

    __slots__ = (
        "ask",
        "bid",
        "cap",
        "index",
        "interval",
        "mark",
        "next_funding",
        "rate",
        "rate_value",
        "seq",
        "symbol",
        "ts",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = 0
        self.ts = 0
        self._clear()

    def _clear(self) -> None:
        self.mark: float | None = None
        self.index: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.rate = ""
        self.rate_value: Decimal | None = None
        self.next_funding: int | None = None
        self.interval: int | None = None
        self.cap: Decimal | None = None

    def merge(self, d: TickerData, snapshot: bool) -> tuple[bool, bool]:
        """Lay ``d`` over the state (a snapshot first clears it). Returns (a price field was
        in the frame, a funding field was in the frame). Raises ValueError naming the field
        (the state is then unchanged)."""
        mark, index, bid, ask = d.markPrice, d.indexPrice, d.bid1Price, d.ask1Price
        rate, when, hours, cap = (
            d.fundingRate,
            d.nextFundingTime,
            d.fundingIntervalHour,
            d.fundingCap,
        )
        # parse everything first
        p_mark = num(mark, "markPrice")
        p_index = num(index, "indexPrice")
        p_bid = num(bid, "bid1Price")
        p_ask = num(ask, "ask1Price")
        p_rate = _rate(rate) if rate is not None else None
        p_when = _ms(when) if when is not None else None
        p_interval = _hours_ms(hours) if hours is not None else None
        p_cap = _decimal(cap, "fundingCap") if cap is not None else None
        if snapshot:
            self._clear()
        prices = funding = False
        if mark is not None:
            self.mark, prices = p_mark, True
        if index is not None:
            self.index, prices = p_index, True
        if bid is not None:
            self.bid, prices = p_bid, True
        if ask is not None:
            self.ask, prices = p_ask, True
        if rate is not None:
            self.rate, self.rate_value, funding = rate, p_rate, True
        if when is not None:
            self.next_funding, funding = p_when, True
        if hours is not None:
            self.interval, funding = p_interval, True
        if cap is not None:
            self.cap = p_cap
        return prices, funding

    def prices(self) -> tuple[float | None, float | None, float | None, float | None]:
        """(mark, index, bid, ask) in quote currency, None where there is no value."""
        return self.mark, self.index, self.bid, self.ask

    def funding_rate(self) -> Decimal | None:
        """The estimate of the next settlement's rate (fraction per interval), None if none."""
        return self.rate_value

    def next_funding_ms(self) -> int | None:
        """``nextFundingTime`` (ms since the epoch, UTC), None if empty."""
        return self.next_funding

    def interval_ms(self) -> int | None:
        """``fundingIntervalHour`` (whole hours) in ms, None if absent or empty."""
        return self.interval

    def cap_value(self) -> Decimal | None:
        """``fundingCap`` (the +/- limit of the rate, a fraction), None if absent."""
        return self.cap


def _decimal(text: str, field: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"field {field}: {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"field {field}: {text!r} is not a finite number")
    return value


def _rate(text: str) -> Decimal | None:
    return _decimal(text, "fundingRate")


def _ms(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"field nextFundingTime: {text!r} is not ms") from None


def _hours_ms(text: str) -> int | None:
    if not text:
        return None
    try:
        hours = int(text)
    except ValueError:
        raise ValueError(f"field fundingIntervalHour: {text!r} is not whole hours") from None
    if not 0 < hours <= 24:
        raise ValueError(f"field fundingIntervalHour: {hours} out of range")
    return hours * HOUR_MS


class BookState:
    """The merged level-1 book of one symbol (best bid / ask price strings, ``""`` = none)."""

    __slots__ = ("ask", "bid", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bid = self.ask = ""

    def merge(self, d: BookData, snapshot: bool) -> None:
        """Lay ``d`` over the book: a snapshot replaces both sides; a delta's side replaces
        that side when present (size ``"0"`` empties it)."""
        bid = _side("" if snapshot else self.bid, d.b)
        ask = _side("" if snapshot else self.ask, d.a)  # both checked before either is applied
        self.bid, self.ask = bid, ask


def _side(best: str, levels: list[list[str]]) -> str:
    """The best price after ``levels`` (``[price, size]``; size 0 deletes that price)."""
    for level in levels:
        if len(level) < 2:
            raise ValueError(f"book level {level!r} is not [price, size]")
        price, size = level[0], level[1]
        try:
            gone = float(size) == 0.0
            float(price)
        except ValueError:
            raise ValueError(f"book level {level!r} is not numbers") from None
        if not gone:
            best = price
        elif price == best:
            best = ""
    return best


def topic_symbol(topic: str) -> str:
    """The symbol a topic names (``tickers.BTCUSDT`` -> ``BTCUSDT``)."""
    return topic.rsplit(".", 1)[-1]
