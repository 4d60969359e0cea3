"""One resilient WebSocket: reconnect with backoff, a per-stream staleness watchdog, an
optional text ``ping``/``pong`` heartbeat (BitMEX), an optional periodic JSON ping (Bybit
``{"op":"ping"}`` every ``ping_every_s``; the feed calls :meth:`ManagedSocket.pong` when the
answer comes) and a planned rotation without a gap (Binance closes every connection after 24 h).

HAZARDS H13: a watched stream silent for ``stale_after_s`` is marked stale at once (the
engine opens nothing on that venue); the socket is then replaced, after a further
``bitmex_pong_timeout_s`` on a heartbeat socket (which also sends ``ping`` once it has been
silent for ``stale_after_s`` and drops the peer when no ``pong`` comes in time; a server that
keeps answering pings but sends no data is replaced as well). Rotation opens the successor
while the old socket still delivers; the successor takes over with its first frame and only
then is the old one closed. Frames over ``max_frame_bytes`` make websockets close the socket
with code 1009; that is counted, logged with the frame's size and the limit, and the socket
re-opened.

A connection counts as working once it has stayed up ``stable_after_s`` (default
``stale_after_s``) and every watched stream has delivered on it; only then is the backoff
reset. One that ends before (even after some data came: a snapshot over the frame limit after
every subscribe, a subscription the venue refused so its stream stays silent) counts as a
failed attempt: the backoff grows exponentially as for a refused handshake (issue 10, feed
rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI, PayloadTooBig
from websockets.frames import CloseCode

from core.domain.config import FeedSettings
from core.feeds.backoff import Backoff
from core.feeds.health import StreamHealth, VenueStats

OnMessage = Callable[[bytes, float], None]
OnOpen = Callable[[ClientConnection], Awaitable[None]]
Log = Callable[[str, str], None]
CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed)


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


class ManagedSocket:
    """A WebSocket to ``url`` carrying ``streams``; every frame of the active connection goes
    to ``on_message(frame_bytes, monotonic_now)``. ``on_open(ws)`` runs after each connect
    (subscriptions). Run :meth:`run` as a task; cancel it to stop.

    ``connections`` counts successful connects; reconnects and failures are counted in
    ``stats`` and on each stream.
    """

    def __init__(
        self,
        *,
        venue: str,
        name: str,
        url: str,
        streams: Sequence[StreamHealth],
        stats: VenueStats,
        settings: FeedSettings,
        on_message: OnMessage,
        on_open: OnOpen | None = None,
        heartbeat: bool = False,
        rotate_after_s: float | None = None,
        log: Log | None = None,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_connect: Callable[[], None] | None = None,
        ping_every_s: float | None = None,
        ping_text: Callable[[], str] | None = None,
        pong_timeout_s: float | None = None,
        stable_after_s: float | None = None,
    ) -> None:
        self.venue, self.name, self.url = venue, name, url
        self.streams = list(streams)
        self.stats = stats
        self.cfg = settings
        self.on_message = on_message
        self.on_open = on_open
        self.heartbeat = heartbeat
        self.rotate_after_s = rotate_after_s
        self._log = log or (lambda _kind, _text: None)
        self.backoff = backoff or Backoff(settings.reconnect_base_s, settings.reconnect_cap_s)
        self._mono = monotonic
        self.on_connect = on_connect
        self.ping_every_s = ping_every_s
        self.ping_text = ping_text or (lambda: '{"op":"ping"}')
        self.pong_timeout_s = (
            pong_timeout_s if pong_timeout_s is not None else settings.bitmex_pong_timeout_s
        )
        self.stable_after_s = (
            stable_after_s if stable_after_s is not None else settings.stale_after_s
        )
        self.pings_sent = 0
        self.pongs = 0
        self._last_ping = 0.0
        self._json_ping_sent: float | None = None
        self._stable = False
        limit = min(settings.stale_after_s, settings.bitmex_pong_timeout_s)
        self.tick_s = max(0.01, min(0.25, limit / 10))
        self.connections = 0
        self._gen = 0
        self._gens = 0
        self._successor_gen: int | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[str] | None = None
        self._connected_at = 0.0
        self._last_frame = 0.0
        self._ping_sent: float | None = None
        self._got_data = False
        self._rotation: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._added_at: dict[str, float] = {}

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Connect, serve, reconnect, until cancelled."""
        try:
            while True:
                ws = await self._connect()
                self._start(ws)
                reason = await self._watch()
                self._end(reason)
        finally:
            for task in (self._reader, self._rotation):
                if task is not None:
                    task.cancel()
            if self._ws is not None:
                self._abort(self._ws)

    async def send(self, text: str) -> None:
        """Send a text frame on the active connection (dropped if none), within
        ``pong_timeout_s``: a send stuck on a vanished network is given up (HAZARDS H21); the
        missing pong or the silent streams then replace the connection."""
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                await asyncio.wait_for(self._ws.send(text), self.pong_timeout_s)

    def add_streams(self, streams: Sequence[StreamHealth], url: str | None = None) -> None:
        """Watch ``streams`` too from now on (subscribed at run time on the open connection
        by the feed); each gets ``stale_after_s`` from now before its silence counts against
        the connection. ``url``: the URL that subscribes every stream on the next connect
        (Binance combined streams name them in the URL; None keeps it)."""
        now = self._mono()
        for st in streams:
            if st not in self.streams:
                self.streams.append(st)
                self._added_at[st.name] = now
        if url is not None:
            self.url = url

    @property
    def connected(self) -> bool:
        """True while a connection is open (a subscription sent now reaches the venue)."""
        return self._ws is not None

    async def _connect(self) -> ClientConnection:
        while True:
            await self.backoff.wait()
            try:
                return await self._open()
            except CONNECT_ERRORS as exc:
                host = urlsplit(self.url).netloc  # where: a typo'd host or a blocked port
                self._failed(f"connect to {host} failed: {type(exc).__name__}: {exc}")

    async def _open(self) -> ClientConnection:
        ws = await connect(
            self.url,
            max_size=self.cfg.max_frame_bytes,
            open_timeout=self.cfg.rest_timeout_s,
            ping_interval=None,
            close_timeout=1.0,
            compression=None,
            proxy=None if _loopback(self.url) else True,
        )
        try:
            if self.on_open is not None:
                # subscriptions within the open timeout (a stuck send is a failed attempt)
                await asyncio.wait_for(self.on_open(ws), self.cfg.rest_timeout_s)
        except BaseException:
            self._abort(ws)
            raise
        return ws

    def _failed(self, why: str) -> None:
        self.backoff.failed()
        self.stats.failed_attempts += 1
        self.stats.last_error = why
        n = self.backoff.consecutive_failures
        if n & (n - 1) == 0:  # 1, 2, 4, 8, ... : say it, without flooding the log
            self._log("alert", f"{self.venue} {self.name}: {why} ({n} in a row)")

    def _start(self, ws: ClientConnection) -> None:
        self.connections += 1
        if self.connections > 1:
            self.stats.reconnects += 1
            for st in self.streams:
                st.reconnects += 1
        now = self._mono()
        self._gens += 1
        self._gen = self._gens
        self._successor_gen = None
        self._ws = ws
        self._connected_at = self._last_frame = now
        self._ping_sent = None
        self._got_data = False
        self._stable = False
        self._last_ping = now
        self._json_ping_sent = None
        for st in self.streams:
            if st.state != "stale":
                st.state = "connecting"
        if self.on_connect is not None:
            self.on_connect()
        self._reader = asyncio.create_task(self._read(ws, self._gen))

    def _end(self, reason: str) -> None:
        if not self._got_data:
            self._failed(f"connection ended before any data: {reason}")
        elif not self._stable:
            up = self._mono() - self._connected_at
            self._failed(f"connection ended {up:.1f} s after it opened: {reason}")
        else:
            self.stats.last_error = reason
            self._log("alert", f"{self.venue} {self.name}: {reason}; reconnecting")
        for st in self.streams:
            if st.state != "stale":
                st.state = "down"
        if self._rotation is not None:
            self._rotation.cancel()
            self._rotation = None
        if self._ws is not None:
            self._abort(self._ws)
            self._ws = None

    # ------------------------------------------------------------------ reading
    async def _read(self, ws: ClientConnection, gen: int) -> str:
        """Deliver frames while this connection is (or becomes) the active one; return why
        it ended."""
        try:
            while True:
                frame = await ws.recv(decode=False)
                now = self._mono()
                if gen != self._gen:
                    if gen != self._successor_gen:
                        return "replaced"
                    self._take_over(ws, gen, now)
                self._last_frame = now
                self._ping_sent = None
                if not self._got_data:
                    self._got_data = True
                self.stats.messages += 1
                self.on_message(frame if isinstance(frame, bytes) else frame.encode(), now)
        except ConnectionClosed as exc:
            sent = exc.sent
            if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                self.stats.oversize_frames += 1
                return self._oversize(ws)
            rcvd = exc.rcvd
            if rcvd is not None:
                return f"closed by the server (code {rcvd.code} {rcvd.reason!r})"
            return "connection lost without a close"

    def _oversize(self, ws: ClientConnection) -> str:
        """Why an oversize frame dropped the socket, naming its size and the limit (bytes)."""
        exc = ws.protocol.parser_exc
        size = getattr(exc, "size", None) if isinstance(exc, PayloadTooBig) else None
        what = f"a frame of {size} bytes" if size is not None else "a frame"
        return f"{what} over max_frame_bytes ({self.cfg.max_frame_bytes}) dropped the socket"

    def pong(self) -> None:
        """The venue answered the JSON ping (called by the feed when it sees the pong)."""
        self.pongs += 1
        self._json_ping_sent = None

    # ----------------------------------------------------------------- watching
    async def _watch(self) -> str:
        """Watch the active connection; return why it must be replaced."""
        while True:
            reader = self._reader
            assert reader is not None
            done, _ = await asyncio.wait({reader}, timeout=self.tick_s)
            if reader is not self._reader:
                continue  # a rotation took over meanwhile
            if done:
                return reader.result() if not reader.cancelled() else "reader cancelled"
            now = self._mono()
            if not self._stable and self._got_data and self._working(now):
                self._stable = True
                self.backoff.succeeded()  # up and delivering long enough: not a failing loop
            why = (
                await self._check_heartbeat(now)
                or await self._check_ping(now)
                or self._check_streams(now)
            )
            if why:
                return why
            self._check_rotation(now)

    def _working(self, now: float) -> bool:
        """Up for ``stable_after_s`` and every watched stream delivered on this connection."""
        if now - self._connected_at < self.stable_after_s:
            return False
        since = self._connected_at
        return all(
            st.last_msg is not None and st.last_msg >= since
            for st in self.streams
            if st.stale_after_s is not None
        )

    def _check_streams(self, now: float) -> str | None:
        grace = self.cfg.bitmex_pong_timeout_s if self.heartbeat else 0.0
        for st in self.streams:
            limit = st.stale_after_s
            if limit is None:
                continue
            if st.state == "live" and st.silent_s(now) > limit:
                st.state = "stale"
                self.stats.stale_events += 1
            since = max(st.last_msg or 0.0, self._connected_at, self._added_at.get(st.name, 0.0))
            if self.heartbeat and self._ping_sent is not None:
                continue  # the pong decides first whether the peer is gone
            if now - since > limit + grace:
                if st.state != "stale":
                    st.state = "stale"
                    self.stats.stale_events += 1
                return f"{st.name} silent for {now - since:.1f} s"
        return None

    async def _check_heartbeat(self, now: float) -> str | None:
        if not self.heartbeat or self._ws is None:
            return None
        if self._ping_sent is None:
            if now - self._last_frame > self.cfg.stale_after_s:
                self._ping_sent = now
                await self.send("ping")
            return None
        if now - self._ping_sent > self.cfg.bitmex_pong_timeout_s:
            self.stats.pongs_missed += 1
            return f"no pong within {self.cfg.bitmex_pong_timeout_s:g} s of ping (peer gone)"
        return None

    async def _check_ping(self, now: float) -> str | None:
        """The periodic JSON heartbeat: send one every ``ping_every_s``; no answer within
        ``pong_timeout_s`` replaces the connection."""
        if self.ping_every_s is None or self._ws is None:
            return None
        sent = self._json_ping_sent
        if sent is not None and now - sent > self.pong_timeout_s:
            self.stats.pongs_missed += 1
            return f"no pong within {self.pong_timeout_s:g} s of ping (peer gone)"
        if now - self._last_ping >= self.ping_every_s:
            self._last_ping = now
            if sent is None:
                self._json_ping_sent = now
            self.pings_sent += 1
            await self.send(self.ping_text())
        return None

    # ----------------------------------------------------------------- rotation
    def _check_rotation(self, now: float) -> None:
        if self.rotate_after_s is None or self._rotation is not None:
            return
        if now - self._connected_at >= self.rotate_after_s:
            self._rotation = asyncio.create_task(self._rotate())

    async def _rotate(self) -> None:
        """Open the successor; its reader takes over with its first frame. A successor that
        sends nothing within ``stale_after_s`` is dropped and the rotation tried again."""
        try:
            try:
                await self.backoff.wait()
                ws = await self._open()
            except CONNECT_ERRORS as exc:
                self._failed(f"planned reconnect failed: {type(exc).__name__}: {exc}")
                return
            self._gens += 1
            gen = self._successor_gen = self._gens
            reader = asyncio.create_task(self._read(ws, gen))
            try:
                await asyncio.wait({reader}, timeout=self.cfg.stale_after_s)
            finally:
                if self._gen != gen:  # never took over: drop it
                    reader.cancel()
                    self._abort(ws)
            if self._gen != gen:
                self._failed("planned reconnect: the new socket sent nothing")
        finally:
            self._rotation = None

    def _take_over(self, ws: ClientConnection, gen: int, now: float) -> None:
        old_ws, old_reader = self._ws, self._reader
        self._gen, self._ws = gen, ws
        self._successor_gen = None
        self._reader = asyncio.current_task()
        self._connected_at = now
        self.stats.rotations += 1
        self._log("state", f"{self.venue} {self.name}: planned reconnect done without a gap")
        if old_reader is not None:
            old_reader.cancel()
        if old_ws is not None:
            task = asyncio.create_task(self._close(old_ws))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await ws.close()

    @staticmethod
    def _abort(ws: ClientConnection) -> None:
        transport = ws.transport
        if transport is not None:
            transport.abort()
