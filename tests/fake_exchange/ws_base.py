"""Common parts of the fake WebSocket venues: the server, connection records, knobs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


@dataclass
class Conn:
    """One accepted connection: its path, what was sent, how it ended."""

    path: str
    opened_at: float = field(default_factory=time.monotonic)
    sent: int = 0
    closed: bool = False
    close_code: int | None = None
    ws: Any = None


class FakeWsServer:
    """A WebSocket server on 127.0.0.1 with fault knobs:

    ``refuse`` (answer the next N handshakes with HTTP 503), ``silent`` (send no data, still
    answer pings), ``vanish`` (send nothing, read nothing, never close: a peer gone without
    a close), ``interval_s`` (time between data frames)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.silent = False
        self.vanish = False
        self.refuse = 0
        self.handshake_times: list[float] = []
        self.refused = 0
        self.conns: list[Conn] = []
        self.server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await serve(
            self._handler, "127.0.0.1", 0, process_request=self._process, compression=None
        )
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[index]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close(close_connections=False)
            for c in self.conns:
                if c.ws is not None and c.ws.transport is not None:
                    c.ws.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def live(self) -> list[Conn]:
        return [c for c in self.conns if not c.closed]

    def _process(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshake_times.append(time.monotonic())
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        conn = Conn(ws.request.path if ws.request else "", ws=ws)
        self.conns.append(conn)
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            await self.serve(ws, conn, closed)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            rcvd = ws.protocol.close_rcvd
            conn.close_code = rcvd.code if rcvd is not None else None
            closed.cancel()

    async def tick(self, closed: asyncio.Future[None]) -> bool:
        """Wait one interval; False once the connection closed."""
        await asyncio.wait({closed}, timeout=self.interval_s)
        return not closed.done()

    async def hang(self, ws: ServerConnection, closed: asyncio.Future[None]) -> None:
        """Vanish: stop reading (no pong, no close frame seen) until the peer goes away."""
        if ws.transport is not None:
            ws.transport.pause_reading()
        await closed

    async def serve(self, ws: ServerConnection, conn: Conn, closed: asyncio.Future[None]) -> None:
        raise NotImplementedError
