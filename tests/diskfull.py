"""A full disk under the audit log: every commit fails as SQLite fails on ENOSPC ("database or
disk is full") while :func:`disk_full` is active; rows already committed stay, and the writer
keeps what it could not write for its next try (core.observe.audit.writer)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.observe.audit.writer import AuditWriter

FULL = "database or disk is full"


class _FullDb:
    """An aiosqlite connection on a full disk: every statement fails."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def execute(self, *a: Any, **k: Any) -> Any:
        raise sqlite3.OperationalError(FULL)

    async def executemany(self, *a: Any, **k: Any) -> Any:
        raise sqlite3.OperationalError(FULL)

    async def execute_fetchall(self, *a: Any, **k: Any) -> Any:
        raise sqlite3.OperationalError(FULL)


@contextmanager
def disk_full() -> Iterator[None]:
    """While active, every audit writer's commits fail with SQLite's disk-full error."""
    orig = AuditWriter._write_batch

    async def full(self: AuditWriter, db: Any) -> bool:
        return await orig(self, _FullDb(db))

    AuditWriter._write_batch = full  # type: ignore[method-assign]
    try:
        yield
    finally:
        AuditWriter._write_batch = orig  # type: ignore[method-assign]
