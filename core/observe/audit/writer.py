"""The audit writer: one task on its own thread and asyncio loop, the only writer of the file.

Callers on other threads (the engine's) hand it objects without waiting (:meth:`submit`: a
deque append) or wait until their row is committed (:meth:`submit_durable`, for an order
intent before the order is sent: it returns only once the row is on disk as far as
``synchronous`` promises, or raises :class:`AuditWriteError`). The task commits whatever is
waiting every ``batch_ms``, as soon as ``batch_rows`` wait, or at once when a durable row
arrives: one ``BEGIN IMMEDIATE`` transaction per batch (HAZARDS H16) that reads the last
row's hash and appends the batch chained to it; a batch of one row (the usual order intent)
is one autocommitted statement, one round trip to the database thread (see
core.observe.audit.store). bench/audit_bench.py measures both paths.

A failed commit keeps its rows and retries on the next tick; durable callers of that batch
get the error (their order is not sent). Nothing is dropped silently: an object that cannot
be encoded is written as an ``audit_error`` row saying so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from core.domain.errors import ArbtuiError
from core.observe.audit.chain import GENESIS, row_hash
from core.observe.audit.store import (
    CHAIN_FUNCTION,
    INSERT_CHAINED_SQL,
    INSERT_SQL,
    SCHEMA,
    TAIL_SQL,
    PendingRow,
)
from core.observe.statedir import create_private, ensure_dir

#: ``encode(obj, written_ts_ms) -> row parameters``; runs on the writer thread.
Encoder = Callable[[Any, int], PendingRow]

_FLUSH = object()


class AuditWriteError(ArbtuiError):
    """The audit log could not be opened, written or closed in time."""


class AuditWriter:
    """The single writer of one audit database file (see the module docstring).

    ``encode`` turns a submitted object into row parameters on the writer thread, so the
    caller's thread pays only for a deque append (``run_id`` names the rows the writer makes
    itself). Start with :meth:`start`; end with
    :meth:`close`.
    """

    def __init__(
        self,
        db_path: Path,
        encode: Encoder,
        *,
        batch_ms: int = 100,
        batch_rows: int = 500,
        synchronous: str = "FULL",
        busy_timeout_s: float = 5.0,
        run_id: str = "",
    ) -> None:
        self.db_path = db_path
        self.run_id = run_id
        self._encode = encode
        self._batch_s = batch_ms / 1000
        self._batch_rows = batch_rows
        self._synchronous = synchronous
        self._busy_timeout_s = busy_timeout_s
        self._pending: deque[tuple[Any, cf.Future[int] | None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._kicked = False
        self._closing = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        """The last write error (None once a later commit succeeds)."""
        self.rows_written = 0
        """Rows committed by this writer."""

    # ----------------------------------------------------------- caller side
    def start(self, timeout_s: float = 5.0) -> None:
        """Open (creating it 0600 if new) and start the writer thread.

        Raises :class:`AuditWriteError` naming the file if it cannot be opened.
        """
        try:
            ensure_dir(self.db_path.parent)
            create_private(self.db_path)
        except OSError as exc:
            raise AuditWriteError(f"{self.db_path}: cannot create: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._run, name="arbtui-audit", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise AuditWriteError(f"{self.db_path}: not opened within {timeout_s} s")
        if self.error is not None:
            raise AuditWriteError(f"{self.db_path}: cannot open: {self.error}")

    def submit(self, obj: Any) -> None:
        """Queue ``obj`` for the next batch (never blocks)."""
        self._pending.append((obj, None))
        if len(self._pending) >= self._batch_rows and not self._kicked:
            self._kick()

    def submit_durable(self, obj: Any, timeout_s: float) -> int:
        """Queue ``obj`` and wait until it is committed; return the writer's committed row
        count. Raises :class:`AuditWriteError` on a failed commit or after ``timeout_s``."""
        if self._closing or self._thread is None or not self._thread.is_alive():
            raise AuditWriteError(f"{self.db_path}: the audit writer is not running")
        fut: cf.Future[int] = cf.Future()
        self._pending.append((obj, fut))
        self._kick()
        try:
            return fut.result(timeout_s)
        except cf.TimeoutError:
            raise AuditWriteError(f"{self.db_path}: not committed within {timeout_s} s") from None
        except AuditWriteError:
            raise
        except Exception as exc:
            raise AuditWriteError(f"{self.db_path}: {exc}") from exc

    def flush(self, timeout_s: float = 2.0) -> int:
        """Wait until everything submitted so far is committed; return the committed count.
        Raises :class:`AuditWriteError` as :meth:`submit_durable`."""
        return self.submit_durable(_FLUSH, timeout_s)

    def close(self, timeout_s: float = 1.5) -> None:
        """Commit what is waiting, close the database and stop the thread.

        Raises :class:`AuditWriteError` if that does not finish within ``timeout_s`` or rows
        are left unwritten.
        """
        if self._thread is None:
            return
        if not self._closing:
            self._closing = True
            self._kick()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AuditWriteError(f"{self.db_path}: writer not closed within {timeout_s} s")
        left = sum(1 for obj, _ in self._pending if obj is not _FLUSH)
        if left:
            raise AuditWriteError(f"{self.db_path}: {left} rows not written ({self.error})")

    @property
    def running(self) -> bool:
        """True while the writer thread runs and is not closing."""
        return not self._closing and self._thread is not None and self._thread.is_alive()

    @property
    def queued(self) -> int:
        """Objects waiting for the next commit."""
        return len(self._pending)

    def _kick(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            self._kicked = True
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop already closed: close() reports what is left
                pass

    # ----------------------------------------------------------- writer side
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()
            self._ready.set()

    async def _open(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(
            self.db_path, isolation_level=None, timeout=self._busy_timeout_s
        )
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self._synchronous}")
            await db.executescript(SCHEMA)
            name, n, fn = CHAIN_FUNCTION
            await db.create_function(name, n, fn, deterministic=True)
        except BaseException:
            await db.close()
            raise
        return db

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        try:
            db = await self._open()
        except Exception as exc:
            self.error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                if not self._wake.is_set():
                    try:
                        await asyncio.wait_for(self._wake.wait(), self._batch_s)
                    except TimeoutError:
                        pass
                self._wake.clear()
                self._kicked = False
                ok = await self._write_batch(db)
                if self._closing and (not self._pending or not ok):
                    break
        finally:
            await db.close()

    async def _write_batch(self, db: aiosqlite.Connection) -> bool:
        """Commit everything waiting; False if the commit failed (rows kept for retry)."""
        if not self._pending:
            return True
        items = []
        while self._pending:
            items.append(self._pending.popleft())
        written_ts_ms = time.time_ns() // 1_000_000
        rows = [self._encode_safe(obj, written_ts_ms) for obj, _ in items if obj is not _FLUSH]
        try:
            if len(rows) == 1:
                await db.execute(INSERT_CHAINED_SQL, rows[0])
            elif rows:
                await self._append(db, rows)
        except Exception as exc:
            self.error = exc
            for obj, fut in reversed(items):
                if fut is not None:
                    fut.set_exception(AuditWriteError(f"{self.db_path}: commit failed: {exc}"))
                if obj is not _FLUSH:
                    self._pending.appendleft((obj, None))
            return False
        self.error = None
        self.rows_written += len(rows)
        for _, fut in items:
            if fut is not None:
                fut.set_result(self.rows_written)
        return True

    async def _append(self, db: aiosqlite.Connection, rows: list[PendingRow]) -> None:
        await db.execute("BEGIN IMMEDIATE")
        try:
            tail = await db.execute_fetchall(TAIL_SQL)
            prev = next(iter(tail))[0] if tail else GENESIS
            params = []
            for r in rows:
                h = row_hash(prev, *r)
                params.append((*r, prev, h))
                prev = h
            await db.executemany(INSERT_SQL, params)
            await db.execute("COMMIT")
        except BaseException:
            try:
                await db.execute("ROLLBACK")
            except Exception:  # no transaction left, or the connection is gone
                pass
            raise

    def _encode_safe(self, obj: Any, written_ts_ms: int) -> PendingRow:
        try:
            return self._encode(obj, written_ts_ms)
        except Exception as exc:  # never drop a record: say what could not be written
            text = f"{type(obj).__name__} not encodable: {exc}; repr {obj!r}"[:4000]
            payload = orjson.dumps({"error": text}).decode()
            return (self.run_id, None, written_ts_ms, "audit_error", "", "", "", payload)
