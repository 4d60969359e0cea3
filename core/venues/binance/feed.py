"""Binance USD-M market data: ``<symbol>@markPrice@1s`` on the ``/market`` path and
``<symbol>@bookTicker`` on the ``/public`` path of the stream host, as combined streams.

Wire format (Binance "USDⓈ-M Futures WebSocket Market Streams": "Mark Price Stream",
"Individual Symbol Book Ticker Streams", "Live Subscribing"/combined streams): a combined
frame is ``{"stream": NAME, "data": {...}}``; numbers are strings. markPriceUpdate has
``E`` event time (ms), ``s`` symbol, ``p`` mark, ``i`` index, ``P`` estimated settle price,
``r`` the live estimate of the next funding rate, ``T`` the next funding time (ms); bookTicker
has ``b``/``B`` best bid price/qty, ``a``/``A`` best ask, ``u`` update id. An empty string is a
missing value (HAZARDS H3). The connection ends after 24 h: it is replaced before that
without a gap (:mod:`core.feeds.socket`).

``r`` is an estimate (``FundingRate.fixed`` False) for the settlement at ``T`` and is only
published once the symbol's funding interval is known from ``fundingInfo``
(:mod:`core.venues.binance.funding`): a rate on the wrong interval picks the wrong side (H1).

Feed rules (:mod:`core.feeds.rules`): a frame of a stream not subscribed, or naming another
symbol than its stream's, is dropped and counted; a frame older than the last one applied on
its stream (bookTicker ``u``, markPrice ``E``) is dropped and counted; an error frame
(``{"error": {"code", "msg"}}`` or ``{"code", "msg"}``) is logged with its text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from core.domain.config import FeedSettings
from core.domain.events import FundingRate, Quote
from core.feeds.health import HealthBoard, StreamHealth, count_bad_frame
from core.feeds.rules import StreamGate
from core.feeds.sink import EventSink
from core.feeds.socket import Log, ManagedSocket
from core.feeds.together import run_together
from core.venues.history import funding_caps

VENUE: Final = "binance"
PATHS: Final = (("market", "markPrice@1s"), ("public", "bookTicker"))
"""(stream host path, stream suffix) of the two sockets."""


class MarkPriceUpdate(msgspec.Struct, tag="markPriceUpdate", tag_field="e"):
    """``markPriceUpdate`` (fields as on the wire; strings are decimal numbers)."""

    E: int
    s: str
    p: str = ""
    i: str = ""
    r: str = ""
    T: int = 0


class BookTicker(msgspec.Struct, tag="bookTicker", tag_field="e"):
    """``bookTicker``: best bid ``b`` and ask ``a`` prices (strings)."""

    s: str
    b: str = ""
    a: str = ""
    u: int = 0
    E: int = 0


class Combined(msgspec.Struct):
    """A combined-stream frame: the stream's name and its message."""

    stream: str
    data: MarkPriceUpdate | BookTicker


_decoder = msgspec.json.Decoder(Combined)


def decode_frame(frame: bytes | str) -> Combined:
    """Decode one combined-stream frame. Raises ``msgspec.DecodeError`` /
    ``msgspec.ValidationError`` (naming the field) on a bad frame."""
    return _decoder.decode(frame)


def _num(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"field {field}: {text!r} is not a number") from None


def parse_mark_price(m: MarkPriceUpdate, ts_ms: int) -> Quote:
    """The mark and index price of a markPriceUpdate as a :class:`Quote` (USDT)."""
    return Quote(ts_ms=ts_ms, venue=VENUE, symbol=m.s, mark=_num(m.p, "p"), index=_num(m.i, "i"))


def parse_funding_estimate(m: MarkPriceUpdate, ts_ms: int, interval_ms: int) -> FundingRate | None:
    """The live funding estimate ``r`` for the settlement at ``T`` (None if absent)."""
    if not m.r or not m.T:
        return None
    try:
        rate = Decimal(m.r)
    except ArithmeticError:
        raise ValueError(f"field r: {m.r!r} is not a number") from None
    if not rate.is_finite():
        raise ValueError(f"field r: {m.r!r} is not a finite number")
    return FundingRate(
        ts_ms=ts_ms,
        venue=VENUE,
        symbol=m.s,
        rate=rate,
        settlement_ts_ms=m.T,
        interval_ms=interval_ms,
        fixed=False,
    )


def parse_book_ticker(b: BookTicker, ts_ms: int) -> Quote:
    """Best bid and ask of a bookTicker as a :class:`Quote` (USDT)."""
    return Quote(ts_ms=ts_ms, venue=VENUE, symbol=b.s, bid=_num(b.b, "b"), ask=_num(b.a, "a"))


class BinanceFeed:
    """Both Binance sockets for ``symbols`` (exchange ids such as ``BTCUSDT``).

    ``interval_ms(symbol)`` gives the symbol's funding interval, or None while unknown (the
    estimate is then held back). ``next_settlement_ms`` holds each symbol's latest ``T``.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        sink: EventSink,
        board: HealthBoard,
        settings: FeedSettings,
        *,
        interval_ms: Callable[[str], int | None],
        log: Log | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.stats = board.venue(VENUE)
        self.interval_ms = interval_ms
        self._log = log or (lambda _k, _t: None)
        self.next_settlement_ms: dict[str, int] = {}
        self._last_rate: dict[str, tuple[str, int, int]] = {}
        self._streams: dict[str, StreamHealth] = {}
        self.gate = StreamGate(
            self.stats,
            {f"{s.lower()}@{x}": s for s in symbols for x in ("markPrice@1s", "bookTicker")},
            self._log,
        )
        self.board = board
        self.cfg = settings
        self.symbols = list(symbols)
        self._base = settings.binance_ws_url.rstrip("/")
        self._req = 0
        self.acks: dict[int, object] = {}
        """Answers to our SUBSCRIBE requests by id (``result`` None = accepted)."""
        sockets = []
        for path, suffix in PATHS:
            names = [f"{s.lower()}@{suffix}" for s in symbols]
            streams = [board.stream(VENUE, n, settings.stale_after_s) for n in names]
            self._streams.update(zip(names, streams, strict=True))
            sockets.append(
                ManagedSocket(
                    venue=VENUE,
                    name=path,
                    url=self._url(path, suffix),
                    streams=streams,
                    stats=self.stats,
                    settings=settings,
                    on_message=self.on_frame,
                    rotate_after_s=settings.binance_rotate_after_s,
                    log=self._log,
                    monotonic=monotonic,
                    on_connect=self._resetter(names),
                )
            )
        self.market, self.public = sockets

    def _url(self, path: str, suffix: str) -> str:
        names = "/".join(f"{s.lower()}@{suffix}" for s in self.symbols)
        return f"{self._base}/{path}/stream?streams={names}"

    async def add_symbols(self, symbols: Sequence[str]) -> None:
        """Subscribe ``symbols`` too, at run time (a pair added to the session): their
        markPrice and bookTicker streams are admitted by the feed rules and watched for
        staleness from now on, a ``SUBSCRIBE`` request (Binance "Live Subscribing":
        ``{"method": "SUBSCRIBE", "params": [stream, ...], "id": n}``, answered
        ``{"result": null, "id": n}``) goes on each open connection, and every later
        connect names them in its URL. Symbols already subscribed are skipped."""
        new = [s for s in symbols if s not in self.symbols]
        if not new:
            return
        self.symbols.extend(new)
        for sock, (path, suffix) in zip((self.market, self.public), PATHS, strict=True):
            names = [f"{s.lower()}@{suffix}" for s in new]
            streams = [self.board.added_stream(VENUE, n, self.cfg.stale_after_s) for n in names]
            self._streams.update(zip(names, streams, strict=True))
            self.gate.subscribed.update(zip(names, new, strict=True))
            sock.add_streams(streams, url=self._url(path, suffix))
            self._req += 1
            req = {"method": "SUBSCRIBE", "params": names, "id": self._req}
            await sock.send(json.dumps(req))  # no connection now: the next one's URL has them

    def _resetter(self, names: list[str]) -> Callable[[], None]:
        def reset() -> None:
            self.gate.reset(names)  # a new connection: its sequence starts afresh

        return reset

    async def run(self) -> None:
        """Run both sockets until cancelled."""
        await run_together(self.market.run(), self.public.run())

    def on_frame(self, frame: bytes, now: float) -> None:
        """Handle one frame: mark its stream seen, publish its events (the hot path: one
        decode, one dict lookup, one or two events)."""
        try:
            msg = _decoder.decode(frame)
            st = self._streams.get(msg.stream)
            d = msg.data
            gate = self.gate
            if st is None or d.s != gate.subscribed[msg.stream]:
                gate.admit(msg.stream, d.s)  # counts and drops it
                return
            key = d.E if isinstance(d, MarkPriceUpdate) else d.u or d.E
            if not gate.in_order(msg.stream, key):
                return
            st.seen(now)
            sink = self.sink
            ts = sink.stamp()
            if type(d) is MarkPriceUpdate:
                quote = parse_mark_price(d, ts)
                rate = self._estimate(d, ts) if d.r else None
                sink.publish_quote(quote)
                if rate is not None:
                    sink.publish(rate)
            else:
                sink.publish_quote(parse_book_ticker(d, ts))  # type: ignore[arg-type]
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            if not self._venue_error(frame):
                self.parse_error(exc, frame)

    def _venue_error(self, frame: bytes) -> bool:
        """An error frame of the venue (``{"error": {"code", "msg"}, "id"}`` for a request,
        ``{"code", "msg"}``): logged with its text; the answer to a SUBSCRIBE request
        (``{"result": null, "id": n}``) is kept in :attr:`acks`. False when the frame is
        neither."""
        try:
            obj = json.loads(frame)
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        if "result" in obj and "id" in obj and "error" not in obj:
            self.acks[obj["id"]] = obj["result"]
            return True
        err = obj.get("error", obj)
        if not isinstance(err, dict) or "msg" not in err:
            return False
        self.gate.venue_error("stream", f"code {err.get('code')}: {err.get('msg')}")
        return True

    def _estimate(self, d: MarkPriceUpdate, ts: int) -> FundingRate | None:
        if d.T:
            self.next_settlement_ms[d.s] = d.T
        interval = self.interval_ms(d.s)
        if interval is None:
            return None
        key = (d.r, d.T, interval)
        if self._last_rate.get(d.s) == key:
            return None  # unchanged: the engine already has it
        fr = parse_funding_estimate(d, ts, interval)
        self._last_rate[d.s] = key
        cap = funding_caps().get((VENUE, d.s))
        if fr is not None and cap is not None and abs(fr.rate) > cap.limit(interval):
            self.gate.beyond_cap(d.s, fr.rate, cap.limit(interval), cap.source)
        return fr

    def parse_error(self, exc: Exception, frame: bytes) -> None:
        """Count a bad frame and say so (first, second, fourth, ... time)."""
        count_bad_frame(self.stats, self._log, exc, frame)
