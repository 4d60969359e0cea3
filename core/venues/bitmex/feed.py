"""BitMEX market data: the ``instrument``, ``quote`` and ``funding`` tables of the configured
symbols on one socket, kept in a :class:`~core.venues.bitmex.tables.TableStore` (HAZARDS H12).

Wire format (BitMEX "Realtime API": "Subscriptions", "Heartbeats", tables ``instrument``,
``quote``, ``funding``): subscribe with ``{"op":"subscribe","args":["instrument:XBTUSD",...]}``;
table frames ``{"table","action","data",["keys","filter"]}``; heartbeat by sending the text
``ping`` and receiving ``pong``. Numbers are JSON numbers (rates are floats such as
``6.900000000000001e-4``, turned into Decimal through their shortest repr); times are ISO 8601;
``fundingInterval`` is a date after 2000-01-01 (``2000-01-01T08:00:00.000Z`` = 8 h, H3).

Events: ``instrument`` ``markPrice`` -> :class:`Quote` mark (index from ``indexPrice`` or
``indicativeSettlePrice``); ``fundingRate`` is already fixed for the settlement at
``fundingTimestamp`` -> :class:`FundingRate` ``fixed=True``; ``indicativeFundingRate`` is the
estimate for the settlement after it -> ``fixed=False``, published just before the fixed one so
the engine's next-settlement rate stays the fixed one. ``quote`` -> bid/ask (the last row per
symbol of a frame). ``funding`` rows are settlements: rows of the first ``partial`` are history
(the baseline, never charged); a later row is published once as :class:`FundingSettled`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec
from websockets.asyncio.client import ClientConnection

from core.domain import timeutil
from core.domain.config import FeedSettings
from core.domain.events import FundingRate, FundingSettled, Quote
from core.feeds.health import HealthBoard, StreamHealth, count_bad_frame
from core.feeds.sink import EventSink
from core.feeds.socket import Log, ManagedSocket
from core.venues.bitmex.tables import Change, Row, TableStore

VENUE: Final = "bitmex"
TABLES = ("instrument", "quote", "funding")
WATCHED = frozenset({"instrument", "quote"})
FUNDING_FIELDS = frozenset(
    {"fundingRate", "indicativeFundingRate", "fundingTimestamp", "fundingInterval"}
)


class Frame(msgspec.Struct):
    """Any BitMEX realtime frame: a table message, or an ack / error / welcome."""

    table: str | None = None
    action: str | None = None
    data: list[dict[str, Any]] = []
    keys: list[str] | None = None
    filter: dict[str, Any] | None = None
    success: bool | None = None
    subscribe: str | None = None
    unsubscribe: str | None = None
    error: str | None = None
    status: int | None = None
    info: str | None = None


_decoder = msgspec.json.Decoder(Frame)


def decode_frame(frame: bytes | str) -> Frame:
    """Decode one frame (not ``pong``). Raises ``msgspec.DecodeError``/``ValidationError``."""
    return _decoder.decode(frame)


def _float(row: Row, field: str) -> float | None:
    v = row.get(field)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"field {field}: {v!r} is not a number")
    return float(v)


def _rate(row: Row, field: str) -> Decimal | None:
    v = _float(row, field)
    return None if v is None else Decimal(repr(v))


def parse_instrument_quote(row: Row, ts_ms: int) -> Quote | None:
    """The mark (and index) of an instrument row, or None without a mark."""
    mark = _float(row, "markPrice")
    if mark is None:
        return None
    index = _float(row, "indexPrice")
    if index is None:
        index = _float(row, "indicativeSettlePrice")
    return Quote(ts_ms=ts_ms, venue=VENUE, symbol=row["symbol"], mark=mark, index=index)


def parse_instrument_funding(row: Row, ts_ms: int) -> list[FundingRate]:
    """[estimate for the settlement after next, fixed rate for the next settlement] of an
    instrument row (either may be absent). Raises ValueError on a bad field."""
    ts_text, iv_text = row.get("fundingTimestamp"), row.get("fundingInterval")
    if not isinstance(ts_text, str) or not isinstance(iv_text, str):
        return []
    settlement = timeutil.parse_iso_ms(ts_text)
    interval = timeutil.bitmex_interval_ms(iv_text)
    out = []
    symbol = row["symbol"]
    indicative = _rate(row, "indicativeFundingRate")
    if indicative is not None:
        out.append(
            FundingRate(
                ts_ms=ts_ms,
                venue=VENUE,
                symbol=symbol,
                rate=indicative,
                settlement_ts_ms=settlement + interval,
                interval_ms=interval,
                fixed=False,
            )
        )
    fixed = _rate(row, "fundingRate")
    if fixed is not None:
        out.append(
            FundingRate(
                ts_ms=ts_ms,
                venue=VENUE,
                symbol=symbol,
                rate=fixed,
                settlement_ts_ms=settlement,
                interval_ms=interval,
                fixed=True,
            )
        )
    return out


def parse_quote(row: Row, ts_ms: int) -> Quote:
    """Best bid/ask of a ``quote`` row (``bidPrice``/``askPrice``; None when absent)."""
    return Quote(
        ts_ms=ts_ms,
        venue=VENUE,
        symbol=row["symbol"],
        bid=_float(row, "bidPrice"),
        ask=_float(row, "askPrice"),
    )


def parse_funding(row: Row, ts_ms: int) -> tuple[int, FundingSettled]:
    """A ``funding`` row -> (settlement ms, settlement stamped ``ts_ms``)."""
    raw_ts = row.get("timestamp")
    iv = row.get("fundingInterval")
    rate = _rate(row, "fundingRate")
    if not isinstance(raw_ts, str) or not isinstance(iv, str) or rate is None:
        raise ValueError(f"funding row without timestamp, fundingInterval or fundingRate: {row!r}")
    when = timeutil.parse_iso_ms(raw_ts)
    return when, FundingSettled(
        ts_ms=ts_ms,
        venue=VENUE,
        symbol=row["symbol"],
        rate=rate,
        interval_ms=timeutil.bitmex_interval_ms(iv),
        raw_ts=raw_ts,
        raw_rate=repr(row["fundingRate"]),
        settlement_ts_ms=timeutil.normalise_settlement_ms(when),
    )


class BitmexFeed:
    """The BitMEX socket for ``symbols``; :meth:`subscribe` adds symbols at run time (the
    tables of the others are left as they are). ``tables`` are subscribed per symbol; tables
    other than ``instrument``, ``quote`` and ``funding`` are kept in the store only."""

    def __init__(
        self,
        symbols: Sequence[str],
        sink: EventSink,
        board: HealthBoard,
        settings: FeedSettings,
        *,
        log: Log | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        tables: Sequence[str] = TABLES,
    ) -> None:
        self.tables = tuple(tables)
        self.sink = sink
        self.board = board
        self.cfg = settings
        self.stats = board.venue(VENUE)
        self._log = log or (lambda _k, _t: None)
        self.store = TableStore()
        self.symbols: list[str] = []
        self._streams: dict[tuple[str, str], StreamHealth] = {}
        self._funding_seen: dict[str, int] = {}
        self._last_rates: dict[str, tuple[FundingRate, ...]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.socket = ManagedSocket(
            venue=VENUE,
            name="realtime",
            url=settings.bitmex_ws_url,
            streams=[],
            stats=self.stats,
            settings=settings,
            on_message=self.on_frame,
            on_open=self._on_open,
            heartbeat=True,
            log=self._log,
            monotonic=monotonic,
        )
        for s in symbols:
            self._add(s)

    def _add(self, symbol: str) -> list[str]:
        if symbol in self.symbols:
            return []
        self.symbols.append(symbol)
        args = []
        for table in self.tables:
            stale = self.cfg.stale_after_s if table in WATCHED else None
            st = self.board.stream(VENUE, f"{table}:{symbol}", stale)
            self._streams[(table, symbol)] = st
            self.socket.streams.append(st)
            args.append(f"{table}:{symbol}")
        return args

    async def run(self) -> None:
        """Run the socket until cancelled."""
        try:
            await self.socket.run()
        finally:
            for t in self._tasks:
                t.cancel()

    async def subscribe(self, symbol: str) -> None:
        """Subscribe one more symbol on the open socket (and on every reconnect)."""
        args = self._add(symbol)
        if args:
            await self.socket.send(json.dumps({"op": "subscribe", "args": args}))

    async def _on_open(self, ws: ClientConnection) -> None:
        self.store.reset()
        args = [f"{t}:{s}" for s in self.symbols for t in self.tables]
        await ws.send(json.dumps({"op": "subscribe", "args": args}))

    async def _resubscribe(self, table: str, symbol: str) -> None:
        arg = f"{table}:{symbol}"
        await self.socket.send(json.dumps({"op": "unsubscribe", "args": [arg]}))
        await self.socket.send(json.dumps({"op": "subscribe", "args": [arg]}))

    # ------------------------------------------------------------------ frames
    def on_frame(self, frame: bytes, now: float) -> None:
        """Handle one frame: apply it to the tables, publish its events."""
        if frame == b"pong":
            return
        try:
            msg = _decoder.decode(frame)
            if msg.table is None:
                self._control(msg)
                return
            if msg.action is None:
                raise ValueError(f"table {msg.table}: frame without an action")
            flt = msg.filter.get("symbol") if msg.filter else None
            applied = self.store.apply(
                msg.table, msg.action, msg.data, msg.keys, flt if isinstance(flt, str) else None
            )
            self._account(msg.table, msg.action, flt, applied.changes, applied.early, now)
            for table, symbol in applied.dirty:
                self.stats.resubscribes += 1
                self._log(
                    "alert",
                    f"{VENUE} {table}:{symbol}: update/delete for an unknown id; re-subscribing",
                )
                task = asyncio.ensure_future(self._resubscribe(table, symbol))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self.stats.unknown_ids += applied.unknown
            if applied.changes:
                self._publish(msg.table, applied.changes)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, KeyError) as exc:
            self.parse_error(exc, frame)

    def _account(
        self, table: str, action: str, flt: Any, changes: list[Change], early: int, now: float
    ) -> None:
        self.stats.early_updates += early
        seen = {c.symbol for c in changes}
        if action == "partial" and isinstance(flt, str):
            seen.add(flt)
        for symbol in seen:
            st = self._streams.get((table, symbol))
            if st is not None:
                st.seen(now)

    def _control(self, msg: Frame) -> None:
        if msg.error is not None or msg.success is False:
            self.stats.last_error = f"server said: {msg.error or msg}"
            self._log("alert", f"{VENUE}: server error {msg.status}: {msg.error}")

    def _publish(self, table: str, changes: list[Change]) -> None:
        ts = self.sink.stamp()
        pub = self.sink.publish
        if table == "quote":
            last: dict[str, Row] = {}
            for c in changes:
                if c.action in ("partial", "insert"):
                    last[c.symbol] = c.row
            for row in last.values():
                pub(parse_quote(row, ts))
        elif table == "instrument":
            for c in changes:
                if c.action == "delete":
                    continue
                if c.action == "partial" or "markPrice" in c.fields:
                    q = parse_instrument_quote(c.row, ts)
                    if q is not None:
                        pub(q)
                if c.action == "partial" or c.fields & FUNDING_FIELDS:
                    self._rates(c.symbol, parse_instrument_funding(c.row, ts))
        elif table == "funding":
            self._settlements(changes, ts)

    def _rates(self, symbol: str, rates: list[FundingRate]) -> None:
        key = tuple(msgspec.structs.replace(r, ts_ms=0) for r in rates)
        if not rates or self._last_rates.get(symbol) == key:
            return
        self._last_rates[symbol] = key
        for r in rates:
            self.sink.publish(r)

    def _settlements(self, changes: list[Change], ts: int) -> None:
        by_symbol: dict[str, list[tuple[int, FundingSettled]]] = {}
        partial = {c.symbol for c in changes if c.action == "partial"}
        for c in changes:
            if c.action in ("partial", "insert"):
                by_symbol.setdefault(c.symbol, []).append(parse_funding(c.row, ts))
        for symbol in partial:
            by_symbol.setdefault(symbol, [])
        for symbol, rows in by_symbol.items():
            rows.sort(key=lambda p: p[0])
            if symbol not in self._funding_seen:  # first image: history, the baseline only
                self._funding_seen[symbol] = rows[-1][0] if rows else 0
                continue
            for when, ev in rows:
                if when > self._funding_seen[symbol]:
                    self._funding_seen[symbol] = when
                    self.sink.publish(ev)

    def parse_error(self, exc: Exception, frame: bytes) -> None:
        """Count a bad frame and say so (first, second, fourth, ... time)."""
        count_bad_frame(self.stats, self._log, exc, frame)
