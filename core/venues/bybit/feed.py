"""Bybit v5 public market data: ``tickers.<symbol>`` (and optionally ``orderbook.1.<symbol>``)
on ``/v5/public/linear`` or ``/v5/public/inverse`` of the stream host, by instrument kind.

Wire format: :mod:`core.venues.bybit.wire` (Bybit docs ``websocket/public/ticker``,
``websocket/public/orderbook``, ``ws/connect``). A ticker snapshot is followed by deltas that
carry only the changed fields; the feed keeps the merged state per symbol and publishes from
it: a :class:`~core.domain.events.Quote` (mark, index, best bid and ask, quote currency: USDT
for linear, USD for inverse) whenever a frame carried a price field, and a
:class:`~core.domain.events.FundingRate` estimate (``fixed`` False) of ``fundingRate`` for the
settlement at ``nextFundingTime`` (ms) whenever it changes. Its interval is the ticker's
``fundingIntervalHour`` (hours) when present, else the symbol's ``fundingInterval`` from REST
instruments-info (minutes; :mod:`core.venues.bybit.funding`), and is held back while neither
is known (a rate on the wrong interval picks the wrong side, HAZARDS H1). ``fundingCap`` is
kept in :attr:`BybitFeed.caps`. An empty string (``"fundingRate": ""`` on futures) is no
value: no rate is published.

Heartbeat: ``{"req_id": "ping-N", "op": "ping"}`` every ``feeds.bybit_ping_s`` (20 s, as
Bybit recommends); a pong not seen within ``bitmex_pong_timeout_s`` replaces the connection.
Reconnect, staleness and backoff are :mod:`core.feeds.socket`'s, as for Binance; the feed rules
(subscribed streams only, no frame older than the last applied one by ``cs``/``u`` else
``ts``, venue errors logged with their text) are :mod:`core.feeds.rules`'.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Final

import msgspec
from websockets.asyncio.client import ClientConnection

from core.domain.config import FeedSettings
from core.domain.events import FundingRate, Quote
from core.feeds.health import HealthBoard, count_bad_frame
from core.feeds.rules import UNSUBSCRIBED_STREAM, WRONG_SYMBOL, StreamGate
from core.feeds.sink import EventSink
from core.feeds.socket import Log, ManagedSocket
from core.feeds.together import run_together
from core.venues.bybit import wire
from core.venues.bybit.wire import BOOK1, TICKERS, BookState, TickerState
from core.venues.history import funding_caps

VENUE: Final = "bybit"
KINDS: Final = ("linear", "inverse")
DELTA_BEFORE_SNAPSHOT: Final = "delta_before_snapshot"
"""Drop reason: a delta for a symbol whose snapshot has not come yet (nothing to merge into)."""


class SubscribeRefused(Exception):
    """The venue refused a subscription made at run time (its text in the message)."""


def ws_url(base: str, kind: str) -> str:
    """The public stream URL of ``kind`` (``linear``/``inverse``) under ``base``."""
    if kind not in KINDS:
        raise ValueError(f"Bybit public stream for kind {kind!r}: only linear or inverse")
    return f"{base.rstrip('/')}/v5/public/{kind}"


class BybitFeed:
    """The Bybit public sockets for ``instruments`` (symbol -> kind ``linear``/``inverse``):
    one socket per kind in use.

    ``interval_ms(symbol)`` gives the REST funding interval (ms) or None while unknown.
    ``state`` holds the merged ticker per symbol, ``next_settlement_ms`` each symbol's latest
    ``nextFundingTime``, ``caps`` its ``fundingCap``. ``book`` also subscribes
    ``orderbook.1.<symbol>`` for the best bid and ask.
    """

    def __init__(
        self,
        instruments: Mapping[str, str],
        sink: EventSink,
        board: HealthBoard,
        settings: FeedSettings,
        *,
        interval_ms: Callable[[str], int | None],
        log: Log | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        book: bool = False,
    ) -> None:
        self.sink = sink
        self.stats = board.venue(VENUE)
        self.interval_ms = interval_ms
        self._log = log or (lambda _k, _t: None)
        self.state: dict[str, TickerState] = {}
        self.books: dict[str, BookState] = {}
        self.ready: set[str] = set()
        self.caps: dict[str, Decimal] = {}
        self.next_settlement_ms: dict[str, int] = {}
        self._last_rate: dict[str, tuple[str, int, int]] = {}
        self._req = 0
        self.board = board
        self.cfg = settings
        self.book_too = book
        self._mono = monotonic
        self._extra: list[asyncio.Task[None]] = []
        subscribed: dict[str, str] = {}
        topics_of: dict[str, list[str]] = {}
        for symbol, kind in instruments.items():
            ws_url("", kind)  # refuses a kind without a public v5 stream here
            topics = [f"{TICKERS}{symbol}"] + ([f"{BOOK1}{symbol}"] if book else [])
            topics_of.setdefault(kind, []).extend(topics)
            subscribed.update((t, symbol) for t in topics)
            self.state[symbol] = TickerState(symbol)
            if book:
                self.books[symbol] = BookState(symbol)
        self.gate = StreamGate(self.stats, subscribed, self._log)
        self._streams = {t: board.stream(VENUE, t, settings.stale_after_s) for t in subscribed}
        self.sockets: dict[str, ManagedSocket] = {}
        self._waiting: dict[str, asyncio.Future[str | None]] = {}
        """Topics subscribed at run time whose answer :meth:`add_symbols` awaits."""
        self._asked: dict[str, list[str]] = {}
        """Topics of each awaited subscribe request, by ``req_id``."""
        self._own_task: dict[str, asyncio.Task[None]] = {}
        """The task of each socket :meth:`add_symbols` opened, by kind."""
        self.topics_of = topics_of
        """Topics per socket kind (the lists each socket subscribes on every connect)."""
        for kind, topics in topics_of.items():
            self.sockets[kind] = self._socket(kind, topics)

    def _socket(self, kind: str, topics: list[str]) -> ManagedSocket:
        return ManagedSocket(
            venue=VENUE,
            name=kind,
            url=ws_url(self.cfg.bybit_ws_url, kind),
            streams=[self._streams[t] for t in topics],
            stats=self.stats,
            settings=self.cfg,
            on_message=self._handler(kind),
            on_open=self._subscriber(topics),
            on_connect=self._resetter(topics),
            ping_every_s=self.cfg.bybit_ping_s,
            ping_text=self._ping_text,
            log=self._log,
            monotonic=self._mono,
        )

    async def run(self) -> None:
        """Run every socket until cancelled (those opened by :meth:`add_symbols` too)."""
        try:
            await run_together(*(s.run() for s in list(self.sockets.values())))
        finally:
            for task in self._extra:
                task.cancel()
            await asyncio.gather(*self._extra, return_exceptions=True)

    async def add_symbols(self, instruments: Mapping[str, str]) -> None:
        """Subscribe ``instruments`` (symbol -> ``linear``/``inverse``) too, at run time (a
        pair added to the session): their topics are admitted by the feed rules and watched
        for staleness from now on; a ``{"req_id", "op": "subscribe", "args": [topic, ...]}``
        request goes on the open socket of that kind (the socket re-subscribes them on every
        later connect), or a socket of that kind is opened when none is in use. Symbols
        already subscribed are skipped. Then the venue's answers are awaited, at most
        ``stale_after_s`` (the new streams' grace): a refusal (``"success": false`` naming
        the topic, or answering the request's ``req_id``) takes the refused topics out again
        (not watched, not re-subscribed on a later connect; a socket opened for them alone is
        closed) and raises :class:`SubscribeRefused` with the venue's text; no answer in time
        (no connection now) leaves them to the next connect and to the staleness rule. Raises
        ValueError for a kind without a public v5 stream."""
        loop = asyncio.get_running_loop()
        asked: dict[str, asyncio.Future[str | None]] = {}
        for symbol, kind in instruments.items():
            ws_url("", kind)  # refuses a kind without a public v5 stream here
            topic = f"{TICKERS}{symbol}"
            if topic in self.gate.subscribed:
                continue
            topics = [topic] + ([f"{BOOK1}{symbol}"] if self.book_too else [])
            self.state[symbol] = TickerState(symbol)
            if self.book_too:
                self.books[symbol] = BookState(symbol)
            self.gate.subscribed.update((t, symbol) for t in topics)
            streams = [self.board.added_stream(VENUE, t, self.cfg.stale_after_s) for t in topics]
            self._streams.update(zip(topics, streams, strict=True))
            for t in topics:
                asked[t] = self._waiting[t] = loop.create_future()
            sock = self.sockets.get(kind)
            if sock is None:  # no socket of this kind yet: one of its own, run beside
                self.topics_of[kind] = list(topics)
                sock = self.sockets[kind] = self._socket(kind, self.topics_of[kind])
                self._own_task[kind] = task = asyncio.create_task(sock.run())
                self._extra.append(task)
                continue
            self.topics_of[kind].extend(topics)  # the next connect subscribes them too
            sock.add_streams(streams)
            req_id = self._next_req("sub")
            self._asked[req_id] = list(topics)
            req = {"req_id": req_id, "op": "subscribe", "args": topics}
            await sock.send(json.dumps(req))
        refused = await self._answers(asked)
        if refused:
            self._forget(list(refused))
            said = "; ".join(f"{t}: {why}" for t, why in refused.items())
            raise SubscribeRefused(f"bybit refused the subscription ({said})")

    async def _answers(self, asked: dict[str, asyncio.Future[str | None]]) -> dict[str, str]:
        """Wait (at most ``stale_after_s``) until each topic of ``asked`` is answered or one
        is refused; the refused ones with the venue's text."""
        pending = set(asked.values())
        deadline = self._mono() + self.cfg.stale_after_s
        try:
            while pending:
                left = deadline - self._mono()
                if left <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                if not done or any(f.result() for f in done):
                    break
        finally:
            for t in asked:
                self._waiting.pop(t, None)
        return {t: why for t, f in asked.items() if f.done() and (why := f.result())}

    def _answered(self, req_id: str, refusal: str | None) -> None:
        """The venue's answer to a subscribe request: an ack (``refusal`` None) answers the
        topics of ``req_id``; a refusal answers the waiting topics its text names, else
        those of ``req_id``."""
        topics = self._asked.pop(req_id, []) if req_id else []
        if refusal is not None:
            words = set(re.split(r"[\s,:;]+", refusal))  # "Invalid topic: a,b"
            named = [t for t in self._waiting if t in words]
            topics = named or topics
        for t in topics:
            fut = self._waiting.get(t)
            if fut is not None and not fut.done():
                fut.set_result(refusal)

    def _forget(self, topics: list[str]) -> None:
        """Take ``topics`` (refused by the venue) out: not admitted, not watched, not asked
        for on a later connect; a socket opened for them alone is closed."""
        for t in topics:
            symbol = self.gate.subscribed.pop(t, None)
            st = self._streams.pop(t, None)
            self.board.streams.pop((VENUE, t), None)
            for kind, names in self.topics_of.items():
                if t in names:
                    names.remove(t)
                    sock = self.sockets.get(kind)
                    if sock is not None and st is not None and st in sock.streams:
                        sock.streams.remove(st)
            if symbol is not None and symbol not in self.gate.subscribed.values():
                self.state.pop(symbol, None)
                self.books.pop(symbol, None)
        for kind, names in list(self.topics_of.items()):
            task = self._own_task.get(kind)
            if not names and task is not None:  # opened for the refused topics alone
                task.cancel()
                del self.sockets[kind], self.topics_of[kind], self._own_task[kind]

    # ------------------------------------------------------------------ control
    def _next_req(self, what: str) -> str:
        self._req += 1
        return f"{what}-{self._req}"

    def _ping_text(self) -> str:
        return json.dumps({"req_id": self._next_req("ping"), "op": "ping"})

    def _subscriber(self, topics: list[str]) -> Callable[[ClientConnection], Awaitable[None]]:
        async def subscribe(ws: ClientConnection) -> None:
            req_id = self._next_req("sub")
            if any(t in self._waiting for t in topics):  # its answer is awaited
                self._asked[req_id] = list(topics)
            req = {"req_id": req_id, "op": "subscribe", "args": topics}
            await ws.send(json.dumps(req))

        return subscribe

    def _resetter(self, topics: list[str]) -> Callable[[], None]:
        def reset() -> None:
            self.gate.reset(topics)  # a new connection: its sequence starts afresh

        return reset

    # ------------------------------------------------------------------ frames
    def _handler(self, kind: str) -> Callable[[bytes, float], None]:
        on_frame = self.on_frame

        def handle(frame: bytes, now: float) -> None:
            on_frame(frame, now, kind)

        return handle

    def on_frame(self, frame: bytes, now: float, kind: str = "") -> None:
        """Handle one frame (the hot path: one envelope decode, one data decode, a merge,
        one or two events)."""
        try:
            f = wire.decode_frame(frame)
            topic = f.topic
            if topic:
                if topic not in self.gate.subscribed:
                    self.gate.drop(UNSUBSCRIBED_STREAM, topic, f"topic {topic!r} not subscribed")
                elif topic.startswith(TICKERS):
                    self._ticker(f, topic, now)
                else:
                    self._book(f, topic, now)
            else:
                self._control(f, frame, kind)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            self.parse_error(exc, frame)

    def _ticker(self, f: wire.Frame, topic: str, now: float) -> None:
        d = wire.decode_ticker(f.data)
        gate = self.gate
        symbol = d.symbol
        if symbol != gate.subscribed[topic]:
            gate.drop(WRONG_SYMBOL, topic, f"symbol {symbol!r} on topic {topic!r}")
            return
        snapshot = f.type == "snapshot"
        if not snapshot and symbol not in self.ready:
            gate.drop(DELTA_BEFORE_SNAPSHOT, topic, f"{topic}: delta before its snapshot")
            return
        if not gate.in_order(topic, f.cs or f.ts):
            return
        self._streams[topic].seen(now)
        st = self.state[symbol]
        prices, funding = st.merge(d, snapshot)
        if snapshot:
            self.ready.add(symbol)
        st.seq, st.ts = f.cs, f.ts
        sink = self.sink
        ts = sink.stamp()
        if prices:
            mark, index, bid, ask = st.prices()
            sink.publish_quote(
                Quote(ts_ms=ts, venue=VENUE, symbol=symbol, mark=mark, index=index, bid=bid,
                      ask=ask)
            )  # fmt: skip
        if funding:
            rate = self._estimate(st, ts)
            if rate is not None:
                sink.publish(rate)

    def _estimate(self, st: TickerState, ts: int) -> FundingRate | None:
        symbol = st.symbol
        when = st.next_funding_ms()
        if when is not None:
            self.next_settlement_ms[symbol] = when
        cap = st.cap_value()
        if cap is not None:
            self.caps[symbol] = cap
        rate = st.funding_rate()
        if rate is None or when is None:
            return None  # "" on futures, or not known yet
        interval = st.interval_ms() or self.interval_ms(symbol)
        if interval is None:
            return None
        key = (st.rate, when, interval)
        if self._last_rate.get(symbol) == key:
            return None  # unchanged: the engine already has it
        self._last_rate[symbol] = key
        limit, why = self.caps.get(symbol), "the ticker's own fundingCap"
        known = funding_caps().get((VENUE, symbol))
        if limit is None and known is not None:
            limit, why = known.limit(interval), known.source
        if limit is not None and abs(rate) > limit:
            self.gate.beyond_cap(symbol, rate, limit, why)
        return FundingRate(
            ts_ms=ts,
            venue=VENUE,
            symbol=symbol,
            rate=rate,
            settlement_ts_ms=when,
            interval_ms=interval,
            fixed=False,
        )

    def _book(self, f: wire.Frame, topic: str, now: float) -> None:
        d = wire.decode_book(f.data)
        gate = self.gate
        symbol = d.s
        if symbol != gate.subscribed[topic]:
            gate.drop(WRONG_SYMBOL, topic, f"symbol {symbol!r} on topic {topic!r}")
            return
        if not gate.in_order(topic, d.u or f.ts):
            return
        self._streams[topic].seen(now)
        book = self.books[symbol]
        book.merge(d, f.type == "snapshot")
        bid = wire.num(book.bid, "b")
        ask = wire.num(book.ask, "a")
        self.sink.publish_quote(
            Quote(ts_ms=self.sink.stamp(), venue=VENUE, symbol=symbol, bid=bid, ask=ask)
        )

    def _control(self, f: wire.Frame, frame: bytes, kind: str) -> None:
        if wire.is_pong(f):
            sock = self.sockets.get(kind)
            if sock is not None:
                sock.pong()
            return
        if f.success is False:
            text = f.ret_msg or frame[:200].decode(errors="replace")
            self.gate.venue_error(f"{kind or 'public'} {f.op or 'request'}", text)
            if f.op in ("subscribe", ""):
                self._answered(f.req_id, text)
            return
        if f.success is True and f.op in ("subscribe", "unsubscribe"):
            if f.op == "subscribe":
                self._answered(f.req_id, None)
            return  # an ack: the data that follows is what counts
        self.gate.drop("unknown_frame", "control", f"frame {frame[:120]!r}")

    def parse_error(self, exc: Exception, frame: bytes) -> None:
        """Count a bad frame and say so (time-limited)."""
        count_bad_frame(self.stats, self._log, exc, frame)
