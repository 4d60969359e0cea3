"""A reliable order queue in Redis (HAZARDS H14, H15), with its wire format.

Keys (``P`` = ``[queue] key_prefix``)::

    P:pending              list; producers LPUSH, workers BLMOVE RIGHT -> LEFT (FIFO)
    P:processing:<worker>  list; what one worker took and has not acknowledged (LREM)
    P:workers              hash; worker id -> {"pid", "host"} while registered
    P:lease:<worker>       string with a PX expiry, renewed by the worker's heartbeat
    P:busy:<client id>     SET NX while one executor works on a client order id
    P:updates:<engine>     list; workers LPUSH reports, the engine pops them

An item is the JSON of an :class:`Envelope`; an item re-queued from a dead worker's list is
prefixed with ``R`` (:data:`REDELIVERED`), atomically, by a Lua script. A redelivered item or
an envelope marked ``retry`` (the engine sent that client id before) is looked up at the
venue before anything is sent; a first delivery goes straight to the venue.

Rules: blocking moves are bounded by Redis's own timeout argument (``block_timeout_s``),
never by cancelling the client call; the client's socket timeout must be larger (checked by
:func:`check_timeouts` at start-up, else a blocking move would time out client-side and leave
its reply on the wire). A command that is cancelled or times out anyway makes redis-py drop
that connection (it is never reused) and nothing is retried silently (``retries=0``): a
blind retry of BLMOVE or LPUSH could lose or duplicate an intent. A worker whose lease has
expired is dead: a watcher moves its processing list back onto the pending list, marked
redelivered, so the next executor looks the order up before sending anything.

HAZARDS H20: a server (or a NAT, a proxy, ``CLIENT KILL``) may drop a pooled connection while
it is idle; redis-py 8.1 then fails the next command on it with "Connection closed by
server" instead of reconnecting. A push, a batch claim or an acknowledgement after
:data:`IDLE_PING_S` without a command first PINGs (a command safe to repeat) and, when that
fails, drops the idle connections and PINGs once more on a fresh one, so the intent (a
flatten after a quiet night) is pushed once, at once, and its fill's acknowledgement is not
lost.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from core.domain.config import QueueSettings
from core.domain.errors import BadInput
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.execution.state import Report

UPDATES_TTL_S = 86_400
#: Seconds without a push after which the next push first checks its connection (PING).
IDLE_PING_S = 5.0
REDELIVERED = b"R"
#: Move every item of KEYS[1] (a dead worker's processing list) onto KEYS[2] (pending, the
#: consumer end), marking it redelivered; atomic. Returns the number moved.
REQUEUE_LUA = """
local n = 0
local v = redis.call('LPOP', KEYS[1])
while v do
  if string.sub(v, 1, 1) ~= 'R' then v = 'R' .. v end
  redis.call('RPUSH', KEYS[2], v)
  n = n + 1
  v = redis.call('LPOP', KEYS[1])
end
return n
"""
#: Mark ARGV[5..] busy, then LMOVE up to ARGV[1] items from KEYS[1] (pending) to KEYS[2]
#: (processing), marking each first delivery's client id busy (ARGV[4] .. id, value ARGV[2],
#: PX ARGV[3]); returns the items. Busy keys are built here (a single Redis, not a cluster).
CLAIM_LUA = """
for i = 5, #ARGV do
  redis.call('SET', ARGV[4] .. ARGV[i], ARGV[2], 'NX', 'PX', ARGV[3])
end
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[#out + 1] = v
  if string.sub(v, 1, 1) ~= 'R' then
    local ok, env = pcall(cjson.decode, v)
    if ok and type(env) == 'table' and type(env.intent) == 'table' and not env.retry then
      redis.call('SET', ARGV[4] .. env.intent.client_order_id, ARGV[2], 'NX', 'PX', ARGV[3])
    end
  end
end
return out
"""


class QueueConfigError(BadInput, ValueError):
    """A queue setting that cannot work (HAZARDS H15)."""


def check_timeouts(block_timeout_s: float, socket_timeout_s: float) -> None:
    """Refuse a socket timeout at or below the block timeout (HAZARDS H15)."""
    if block_timeout_s <= 0:
        raise QueueConfigError(f"queue.block_timeout_s must be > 0, got {block_timeout_s}")
    if socket_timeout_s <= block_timeout_s:
        raise QueueConfigError(
            f"queue.socket_timeout_s ({socket_timeout_s}) must be larger than "
            f"queue.block_timeout_s ({block_timeout_s}): a blocking move would time out "
            "client-side and leave its reply on the connection (HAZARDS H14/H15)"
        )


def make_client(url: str, socket_timeout_s: float, name: str | None = None) -> Any:
    """A redis-py asyncio client: bytes replies, no silent retries, the given socket timeout;
    ``name`` is its connections' ``CLIENT SETNAME`` (shown by ``CLIENT LIST``). Typed ``Any``
    (redis-py's async return types are unions with awaitables)."""
    return aioredis.Redis.from_url(
        url,
        client_name=name,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=min(socket_timeout_s, 5.0),
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


class Envelope(msgspec.Struct, frozen=True):
    """One queued intent: the engine that wants the updates, the submit time (UNIX s),
    ``retry`` when the engine had sent this client order id before, and ``spec`` the
    instrument's spec when the engine added it at run time (a worker whose config lacks the
    instrument trades it with this spec; None for configured instruments)."""

    engine: str
    t: float
    intent: OrderIntent
    retry: bool = False
    spec: InstrumentSpec | None = None


_enc = msgspec.json.Encoder()
_env_dec = msgspec.json.Decoder(Envelope)
_rep_dec = msgspec.json.Decoder(Report)


def encode(obj: Envelope | Report) -> bytes:
    """JSON bytes (Decimals as strings)."""
    return _enc.encode(obj)


def decode_envelope(data: bytes) -> Envelope:
    """An :class:`Envelope` from queue bytes, redelivery mark ignored
    (``msgspec.ValidationError`` if malformed)."""
    return _env_dec.decode(data[1:] if data[:1] == REDELIVERED else data)


def redelivered(data: bytes) -> bool:
    """True for an item a watcher re-queued from a dead worker."""
    return data[:1] == REDELIVERED


def decode_report(data: bytes) -> Report:
    """A :class:`~core.execution.state.Report` from update-list bytes."""
    return _rep_dec.decode(data)


def worker_id() -> str:
    """``<host>-<pid>-<random>``: unique per process start."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class ReliableQueue:
    """The Redis operations of the queue (see the module docstring). ``r`` is a client
    from :func:`make_client`."""

    def __init__(
        self,
        r: Any,
        prefix: str,
        *,
        block_timeout_s: float,
        socket_timeout_s: float,
        idle_ping_s: float = IDLE_PING_S,
    ) -> None:
        check_timeouts(block_timeout_s, socket_timeout_s)
        self.r = r
        self.idle_ping_s = idle_ping_s
        self.prefix = prefix
        self.block_timeout_s = block_timeout_s
        self.pending = f"{prefix}:pending"
        self.workers = f"{prefix}:workers"
        self._requeue: Any = r.register_script(REQUEUE_LUA) if r is not None else None
        self._claim: Any = r.register_script(CLAIM_LUA) if r is not None else None
        self._last_used = float("-inf")  # time.monotonic() of the last checked command

    @classmethod
    def connect(cls, qs: QueueSettings, client: Any = None) -> ReliableQueue:
        """The queue of ``[queue]`` on ``client`` (default: a new connection to
        ``qs.redis_url``, dropped rather than reused when a command is cancelled)."""
        r = client if client is not None else make_client(qs.redis_url, qs.socket_timeout_s)
        return cls(
            r,
            qs.key_prefix,
            block_timeout_s=qs.block_timeout_s,
            socket_timeout_s=qs.socket_timeout_s,
        )

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:processing:{worker}"

    def lease(self, worker: str) -> str:
        return f"{self.prefix}:lease:{worker}"

    def updates(self, engine: str) -> str:
        return f"{self.prefix}:updates:{engine}"

    async def ping(self) -> None:
        await self.r.ping()

    # ------------------------------------------------------------ producer
    async def push(self, items: list[bytes]) -> None:
        """LPUSH ``items`` (in order) onto the pending list, one round trip (after an idle
        spell, a PING first: :meth:`_ready`)."""
        if items:
            await self._ready()
            await self.r.lpush(self.pending, *items)

    async def _ready(self) -> None:
        """Before a command that may run on a pooled connection left idle (a push, a worker's
        batch claim and acknowledgement), when this queue sent none for ``idle_ping_s``
        (default :data:`IDLE_PING_S`): PING; if the server had dropped the connection
        (HAZARDS H20), drop every idle connection of the pool and PING on a fresh one. A
        second failure raises ``redis.exceptions.ConnectionError`` (the server is down, not
        an idle drop). Blocking moves need none: they use their connection every
        ``block_timeout_s``."""
        now = time.monotonic()
        if now - self._last_used > self.idle_ping_s:
            try:
                await self.r.ping()
            except RedisConnectionError:
                await self.r.connection_pool.disconnect(inuse_connections=False)
                await self.r.ping()
        self._last_used = time.monotonic()

    # ------------------------------------------------------------ worker
    async def claim(self, worker: str) -> bytes | None:
        """Atomically move the oldest pending item into ``worker``'s processing list; None
        after ``block_timeout_s`` (Redis-side) with nothing pending."""
        item: bytes | None = await self.r.blmove(
            self.pending, self.processing(worker), self.block_timeout_s, "RIGHT", "LEFT"
        )
        return item

    async def claim_more(
        self, worker: str, n: int, lease_s: float, mark: list[str] | None = None
    ) -> list[bytes]:
        """Up to ``n`` more pending items without blocking, and the busy keys of first
        deliveries among them and of the client ids in ``mark``: one Lua round trip."""
        await self._ready()
        got = await self._claim(
            keys=[self.pending, self.processing(worker)],
            args=[n, worker, int(lease_s * 1000), f"{self.prefix}:busy:", *(mark or [])],
        )
        return list(got or [])

    async def finish(
        self, worker: str, item: bytes, engine: str, reports: list[bytes], cid: str
    ) -> None:
        """Push ``reports`` to the engine's update list, acknowledge ``item`` (LREM) and free
        ``cid``'s busy key, in one round trip (MULTI: all or nothing)."""
        await self.finish_many(worker, [(item, engine, reports, cid)])

    async def finish_many(
        self, worker: str, done: list[tuple[bytes, str, list[bytes], str]]
    ) -> None:
        """:meth:`finish` for several items (item, engine, reports, cid) in one MULTI."""
        by_engine: dict[str, list[bytes]] = {}
        for _, engine, reports, _ in done:
            by_engine.setdefault(engine, []).extend(reports)
        await self._ready()
        async with self.r.pipeline(transaction=True) as pipe:
            for engine, reports in by_engine.items():
                if reports:
                    pipe.lpush(self.updates(engine), *reports)
                    pipe.expire(self.updates(engine), UPDATES_TTL_S)
            for item, _, _, cid in done:
                pipe.lrem(self.processing(worker), 1, item)
                if cid:
                    pipe.delete(f"{self.prefix}:busy:{cid}")
            await pipe.execute()

    async def send_reports(self, engine: str, reports: list[bytes]) -> None:
        """Push ``reports`` to the engine's update list now (before the acknowledgement)."""
        await self._ready()
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.lpush(self.updates(engine), *reports)
            pipe.expire(self.updates(engine), UPDATES_TTL_S)
            await pipe.execute()

    async def take_busy(self, cid: str, worker: str, lease_s: float) -> bool:
        """SET NX of ``cid``'s busy key (another executor finished or its lease ran out)."""
        key = f"{self.prefix}:busy:{cid}"
        return bool(await self.r.set(key, worker, nx=True, px=int(lease_s * 1000)))

    async def register(self, worker: str, lease_s: float) -> None:
        """Take the lease and list the worker."""
        await self.r.set(self.lease(worker), b"1", px=int(lease_s * 1000))
        info = msgspec.json.encode({"pid": os.getpid(), "host": socket.gethostname()})
        await self.r.hset(self.workers, worker, info)

    async def heartbeat(self, worker: str, lease_s: float) -> bool:
        """Renew the lease; False if it had expired (the worker was declared dead)."""
        return bool(await self.r.set(self.lease(worker), b"1", px=int(lease_s * 1000), xx=True))

    async def deregister(self, worker: str) -> None:
        """Clean exit: give back what is left in processing, drop lease and listing."""
        await self._requeue_all(worker)
        await self.r.delete(self.lease(worker))
        await self.r.hdel(self.workers, worker)

    async def requeue_dead(self) -> int:
        """Move the processing lists of workers whose lease expired back onto pending
        (their oldest item first in line); return how many items moved."""
        moved = 0
        for raw in await self.r.hkeys(self.workers):
            w = raw.decode()
            if await self.r.exists(self.lease(w)):
                continue
            moved += await self._requeue_all(w)
            await self.r.hdel(self.workers, w)
        return moved

    async def _requeue_all(self, worker: str) -> int:
        return int(await self._requeue(keys=[self.processing(worker), self.pending]))

    # ------------------------------------------------------------ engine
    async def pop_updates(self, engine: str, max_items: int = 256) -> list[bytes]:
        """Block (Redis-side, ``block_timeout_s``) for the engine's next update, then take
        what else is waiting (up to ``max_items``), oldest first."""
        got = await self.r.brpop([self.updates(engine)], self.block_timeout_s)
        if got is None:
            return []
        out = [got[1]]
        more = await self.r.rpop(self.updates(engine), max_items - 1)
        if more:
            out.extend(more)
        return out

    async def depth(self) -> tuple[int, float]:
        """(pending items, age in seconds of the oldest one)."""
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.llen(self.pending)
            pipe.lindex(self.pending, -1)
            n, oldest = await pipe.execute()
        age = 0.0
        if oldest:
            try:
                age = max(time.time() - decode_envelope(oldest).t, 0.0)
            except msgspec.ValidationError:
                age = 0.0
        return int(n), age

    async def inflight(self) -> int:
        """Items in every registered worker's processing list."""
        total = 0
        for raw in await self.r.hkeys(self.workers):
            total += int(await self.r.llen(self.processing(raw.decode())))
        return total
