"""A venue's private order stream: one authenticated WebSocket that reconnects, and after every
reconnect looks the venue's open orders up by REST, so nothing that happened while the socket
was down is lost. Reports go into the venue's :class:`~core.execution.state.OrderBook`. The keys
are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.domain.snapshot import FeedView
from core.venues.ccxt_base import VenueHttpError

if TYPE_CHECKING:
    from core.venues.ccxt_base import LiveVenue

log = logging.getLogger("arbtui.execution")
CONNECT_WAIT_S = 5.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class PrivateStream:
    """Reconnecting socket loop; subclasses give ``_url``, ``_session`` and ``_on_text``."""

    def __init__(self, venue: LiveVenue) -> None:
        self.venue = venue
        self.connected = asyncio.Event()
        self.connects = 0
        self.messages = 0
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._closing = False
        self.last_error = ""

    async def start(self) -> None:
        """Start the loop; wait up to :data:`CONNECT_WAIT_S` for the first connection."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self.connected.wait(), CONNECT_WAIT_S)
        except TimeoutError:
            self.venue.warnings.append(f"{self.venue.venue}: user stream not connected yet")

    async def close(self) -> None:
        """Stop the loop: close the socket, cancel the task, wait at most 2 s for it."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)

    def note(self) -> str:
        """What is wrong besides the socket itself ("" when nothing); venues add theirs."""
        return ""

    def view(self) -> FeedView:
        """The stream's health as the console shows feeds: ``stream`` "private", state
        "live" (connected, nothing wrong), "stale" (connected but :meth:`note` says what is
        wrong) or "down" (not connected; ``note`` the last error)."""
        note = self.note()
        if self.connected.is_set():
            state = "stale" if note else "live"
        else:
            state = "down"
            note = note or self.last_error
        reconnects = max(self.connects - 1, 0)
        return FeedView(self.venue.venue, "private", state, 0, self.messages, reconnects, note)

    def reconnect(self) -> None:
        """Drop the socket; the loop opens a new one."""
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    async def _url(self) -> str:
        raise NotImplementedError

    async def _session(self, ws: ClientConnection) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            try:
                url = await self._url()
                async with connect(url, open_timeout=10, max_size=2**22) as ws:
                    self._ws = ws
                    failures = 0
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, TimeoutError, VenueHttpError, ValueError) as exc:
                self.last_error = self.venue.redact(str(exc)) or type(exc).__name__
                if not self._closing:
                    log.warning("%s user stream: %s", self.venue.venue, self.last_error)
            except Exception as exc:  # keep the stream alive
                self.last_error = self.venue.redact(repr(exc))
                log.warning("%s user stream error: %s", self.venue.venue, self.last_error)
            self._ws = None
            self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    async def _connected(self) -> None:
        self.connects += 1
        self.connected.set()
        if self.connects > 1:
            await self.reconcile()

    async def reconcile(self) -> None:
        """Look up every open order of this venue (after a gap in the stream)."""
        book = self.venue.book
        for st in list(book.orders.values()):
            if st.venue == self.venue.venue and st.seen and not st.status.final:
                rep = await self.venue.lookup(st.symbol, st.cid)
                if rep.found:
                    book.apply(rep)
