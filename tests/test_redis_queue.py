"""The Redis queue against the real server on 127.0.0.1:6379 (HAZARDS H14, H15). Every test
uses its own key prefix and deletes its keys afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.domain.config import ConfigError, parse_config
from core.execution.redis_queue import (
    Envelope,
    QueueConfigError,
    ReliableQueue,
    check_timeouts,
    decode_envelope,
    encode,
    make_client,
    redelivered,
)
from tests.conftest import HISTORY_CONFIG
from tests.fake_venues import intent
from tests.redis_fixtures import REDIS


class DelayProxy:
    """A TCP proxy to Redis that can hold the server's replies (a slow network)."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> DelayProxy:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _session(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", 6379)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, slow: bool) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if slow and self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(cr, uw, False), pipe(ur, cw, True))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_h14_a_cancelled_get_does_not_poison_the_next_get_or_ping(prefix: str) -> None:
    setup = make_client(REDIS, 5.0)
    await setup.set(f"{prefix}:a", b"value-a")
    await setup.set(f"{prefix}:b", b"value-b")
    proxy = await DelayProxy().start()
    r = make_client(f"redis://127.0.0.1:{proxy.port}/0", 5.0)
    try:
        await r.ping()  # one connection, open
        proxy.delay_s = 0.3  # the reply to the next command is held on the wire
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.get(f"{prefix}:a"), 0.05)  # cancelled client-side
        proxy.delay_s = 0.0
        assert await r.get(f"{prefix}:b") == b"value-b"
        assert await r.ping() is True
        # the same sequence on a raw connection that is reused shows the hazard is real
        rd, wr = await asyncio.open_connection("127.0.0.1", proxy.port)
        proxy.delay_s = 0.3
        wr.write(f"GET {prefix}:a\r\n".encode())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(rd.readline(), 0.05)
        proxy.delay_s = 0.0
        wr.write(f"GET {prefix}:b\r\n".encode())
        await rd.readline()  # "$7"
        assert await rd.readline() == b"value-a\r\n"  # the previous command's answer
        wr.close()
    finally:
        await r.aclose()
        await setup.aclose()
        await proxy.stop()


async def test_h15_a_5_s_blocking_move_with_a_10_s_socket_timeout_returns_nothing_after_5_s(
    prefix: str,
) -> None:
    r = make_client(REDIS, 10.0)
    q = ReliableQueue(r, prefix, block_timeout_s=5.0, socket_timeout_s=10.0)
    t0 = time.monotonic()
    try:
        assert await q.claim("w1") is None
        assert 4.9 <= time.monotonic() - t0 < 6.0
        assert await r.ping() is True  # the connection is still good
    finally:
        await r.aclose()


def test_h15_a_socket_timeout_at_or_below_the_block_timeout_is_refused_at_start_up() -> None:
    for socket_s in (5.0, 4.0):
        with pytest.raises(QueueConfigError, match=r"queue.socket_timeout_s \(.*\) must be larger"):
            check_timeouts(5.0, socket_s)
        with pytest.raises(QueueConfigError):
            ReliableQueue(None, "p", block_timeout_s=5.0, socket_timeout_s=socket_s)
    text = (HISTORY_CONFIG).read_text().replace("socket_timeout_s = 10.0", "socket_timeout_s = 5.0")
    with pytest.raises(
        ConfigError,
        match=r"my.toml: queue.socket_timeout_s: 5.0 must be larger "
        r"than queue.block_timeout_s \(5.0\)",
    ):
        parse_config(text, "my.toml")


async def test_items_move_to_processing_and_leave_only_when_acknowledged(prefix: str) -> None:
    r = make_client(REDIS, 2.0)
    q = ReliableQueue(r, prefix, block_timeout_s=0.2, socket_timeout_s=2.0)
    try:
        items = [encode(Envelope("eng", time.time(), intent(f"q-{i}"))) for i in range(3)]
        await q.push(items)
        got = await q.claim("w1")
        assert got == items[0]  # FIFO
        assert decode_envelope(got).intent.client_order_id == "q-0"
        assert await r.lrange(q.processing("w1"), 0, -1) == [items[0]]
        assert (await q.depth())[0] == 2
        await q.finish("w1", got, "eng", [b"report"], "q-0")
        assert await r.llen(q.processing("w1")) == 0
        assert await q.pop_updates("eng") == [b"report"]
    finally:
        await r.aclose()


async def test_a_dead_workers_items_are_requeued_by_the_watcher(prefix: str) -> None:
    r = make_client(REDIS, 2.0)
    q = ReliableQueue(r, prefix, block_timeout_s=0.2, socket_timeout_s=2.0)
    try:
        item = encode(Envelope("eng", time.time(), intent("q-dead")))
        await q.push([item])
        await q.register("dying", lease_s=0.2)
        assert await q.claim("dying") == item  # moved, then the worker dies before LREM
        assert await q.requeue_dead() == 0  # lease still valid: nothing moves
        await asyncio.sleep(0.3)
        assert await q.heartbeat("dying", 0.2) is False  # a late heartbeat cannot revive it
        assert await q.requeue_dead() == 1
        again = await q.claim("next")
        assert again == b"R" + item and redelivered(again)  # marked: look up before sending
        assert decode_envelope(again).intent.client_order_id == "q-dead"
        assert await r.hkeys(q.workers) == []
    finally:
        await r.aclose()


async def test_a_client_id_is_busy_for_one_executor_until_acknowledged(prefix: str) -> None:
    r = make_client(REDIS, 2.0)
    q = ReliableQueue(r, prefix, block_timeout_s=0.2, socket_timeout_s=2.0)
    try:
        assert await q.take_busy("cid-1", "w1", 1.0) is True
        assert await q.take_busy("cid-1", "w2", 1.0) is False  # w1 works on it
        await q.finish("w1", b"x", "eng", [], "cid-1")  # frees the busy key
        assert await q.take_busy("cid-1", "w2", 1.0) is True
    finally:
        await r.aclose()


async def kill_connections(admin: Any, name: str) -> int:
    """``CLIENT KILL`` every connection named ``name`` (as a server ``timeout`` would)."""
    listing = (await admin.execute_command("CLIENT", "LIST")).decode()
    ids = [
        f.split("=")[1]
        for line in listing.splitlines()
        if f" name={name} " in line
        for f in line.split()
        if f.startswith("id=")
    ]
    for i in ids:
        await admin.execute_command("CLIENT", "KILL", "ID", i)
    return len(ids)


async def test_h20_an_idle_connection_the_server_dropped_is_replaced_and_the_intent_pushed_once(
    prefix: str,
) -> None:
    r = make_client(REDIS, 2.0, name=prefix)
    admin = make_client(REDIS, 2.0)
    q = ReliableQueue(r, prefix, block_timeout_s=1.0, socket_timeout_s=2.0, idle_ping_s=0.5)
    try:
        await q.push([b"first"])
        # a worker idling on the empty queue (after the first item): no timeout error
        assert await q.claim("w1") == b"first"
        for _ in range(3):
            assert await q.claim("w1") is None
        # the server drops the idle pooled connection (as `timeout` or CLIENT KILL does)
        assert await kill_connections(admin, prefix) == 1
        # redis-py 8.1 fails the next command on it: the hazard is real on this client
        with pytest.raises(RedisConnectionError, match="Connection closed by server"):
            await r.lpush(f"{prefix}:probe", b"x")
        await r.ping()
        assert await kill_connections(admin, prefix) == 1
        await asyncio.sleep(0.6)  # idle longer than idle_ping_s
        await q.push([b"flatten"])  # no error: checked, reconnected, pushed
        assert await admin.lrange(q.pending, 0, -1) == [b"flatten"]  # once
    finally:
        await r.aclose()
        await admin.aclose()


async def test_h20_a_workers_acknowledgement_after_a_quiet_night_is_not_lost(prefix: str) -> None:
    r = make_client(REDIS, 2.0, name=prefix)
    admin = make_client(REDIS, 2.0)
    q = ReliableQueue(r, prefix, block_timeout_s=1.0, socket_timeout_s=2.0, idle_ping_s=0.5)
    try:
        # two connections in the pool: one blocks in BLMOVE while the other acknowledges
        item = encode(Envelope("eng1", time.time(), intent("cid-1")))
        await q.push([item])
        claimed, _ = await asyncio.gather(q.claim("w1"), r.ping())
        assert claimed == item
        assert await kill_connections(admin, prefix) >= 1  # every idle one dropped
        await asyncio.sleep(0.6)
        await q.finish("w1", item, "eng1", [b"report-filled"], "cid-1")
        assert await admin.lrange(q.processing("w1"), 0, -1) == []
        assert await admin.lrange(q.updates("eng1"), 0, -1) == [b"report-filled"]
    finally:
        await r.aclose()
        await admin.aclose()
