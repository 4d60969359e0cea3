"""BitMEX realtime tables: a keyed store that applies ``partial`` / ``insert`` / ``update`` /
``delete`` exactly as HAZARDS H12 says.

Wire format (BitMEX "Realtime API", section "Subscriptions" / "Table actions"): after a
subscription the server sends ``partial`` (the full image of the table for the subscription's
``filter``, with the ``keys`` that identify a row), then ``insert`` (new rows), ``update``
(only the changed fields plus the keys) and ``delete`` (keys only). A table is kept per
(table name, symbol), so subscribing a second symbol on the same socket replaces only that
symbol's rows. Tables without keys (``quote``, ``trade``) are append-only: the latest
:data:`KEEP_UNKEYED` rows per symbol are kept.

Rules: a row before its table's ``partial`` is dropped (counted as early; the table is not
ready); an ``update`` or ``delete`` for a key never seen marks the table dirty (counted; the
feed re-subscribes it and drops its rows until the new ``partial``); an ``update`` is merged
field by field onto the stored row (sparse updates).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
KEEP_UNKEYED = 50


@dataclass(slots=True)
class Table:
    """One table for one symbol. ``rows`` by key tuple (keyed) or ``recent`` (unkeyed)."""

    name: str
    symbol: str
    keys: tuple[str, ...] = ()
    ready: bool = False
    rows: dict[tuple[Any, ...], Row] = field(default_factory=dict)
    recent: deque[Row] = field(default_factory=lambda: deque(maxlen=KEEP_UNKEYED))

    def key_of(self, row: Row) -> tuple[Any, ...] | None:
        """The row's key tuple, or None if a key field is missing."""
        try:
            return tuple(row[k] for k in self.keys)
        except KeyError:
            return None

    def reset(self) -> None:
        """Forget every row; not ready until the next ``partial``."""
        self.ready = False
        self.rows.clear()
        self.recent.clear()


@dataclass(slots=True)
class Change:
    """One applied row: ``row`` is the stored row after the action (for ``delete``, the row
    as it was); ``fields`` are the field names the message carried."""

    table: str
    symbol: str
    action: str
    row: Row
    fields: frozenset[str]


@dataclass(slots=True)
class Applied:
    """What one message did: applied rows, tables that went dirty, rows dropped early."""

    changes: list[Change] = field(default_factory=list)
    dirty: list[tuple[str, str]] = field(default_factory=list)
    early: int = 0
    unknown: int = 0


class TableStore:
    """All tables of one BitMEX socket, keyed by (table name, symbol)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], Table] = {}

    def get(self, name: str, symbol: str) -> Table:
        """The table ``name`` for ``symbol`` (created empty, not ready)."""
        key = (name, symbol)
        t = self.tables.get(key)
        if t is None:
            t = self.tables[key] = Table(name, symbol)
        return t

    def ready(self, name: str, symbol: str) -> bool:
        """True once the table's ``partial`` was applied (and it is not dirty)."""
        t = self.tables.get((name, symbol))
        return t is not None and t.ready

    def reset(self) -> None:
        """Forget all rows (a new connection: every table waits for its partial)."""
        for t in self.tables.values():
            t.reset()

    def apply(
        self,
        name: str,
        action: str,
        data: list[Row],
        keys: list[str] | None = None,
        filter_symbol: str | None = None,
    ) -> Applied:
        """Apply one table message. Raises ValueError for an unknown ``action`` or a row
        without a ``symbol`` (the feed counts it as a parse error)."""
        out = Applied()
        if action == "partial":
            self._partial(name, data, keys or [], filter_symbol, out)
            return out
        if action not in ("insert", "update", "delete"):
            raise ValueError(f"table {name}: unknown action {action!r}")
        for row in data:
            symbol = row.get("symbol")
            if not isinstance(symbol, str):
                raise ValueError(f"table {name}: {action} row without a symbol: {row!r}")
            t = self.tables.get((name, symbol))
            if t is None or not t.ready:
                out.early += 1
                continue
            fields = frozenset(row)
            if not t.keys:
                if action == "insert":
                    t.recent.append(row)
                    out.changes.append(Change(name, symbol, action, row, fields))
                else:  # update/delete on a table without keys cannot be placed
                    self._dirty(t, out)
                continue
            k = t.key_of(row)
            stored = t.rows.get(k) if k is not None else None
            if action == "insert":
                if k is None:
                    raise ValueError(f"table {name}: insert row without keys {t.keys}: {row!r}")
                t.rows[k] = dict(row)
                out.changes.append(Change(name, symbol, action, t.rows[k], fields))
            elif stored is None:
                self._dirty(t, out)
            elif action == "update":
                stored.update(row)
                out.changes.append(Change(name, symbol, action, stored, fields))
            else:
                del t.rows[k]  # type: ignore[arg-type]
                out.changes.append(Change(name, symbol, action, stored, fields))
        return out

    def _dirty(self, t: Table, out: Applied) -> None:
        out.unknown += 1
        if t.ready:
            t.reset()
            out.dirty.append((t.name, t.symbol))

    def _partial(
        self, name: str, data: list[Row], keys: list[str], symbol: str | None, out: Applied
    ) -> None:
        groups: dict[str, list[Row]] = {}
        if symbol is not None:
            groups[symbol] = []
        for row in data:
            s = row.get("symbol")
            if not isinstance(s, str):
                raise ValueError(f"table {name}: partial row without a symbol: {row!r}")
            groups.setdefault(s, []).append(row)
        for s, rows in groups.items():
            t = self.get(name, s)
            t.reset()
            t.keys = tuple(keys)
            for row in rows:
                if t.keys:
                    k = t.key_of(row)
                    if k is None:
                        raise ValueError(f"table {name}: partial row without keys {keys}: {row!r}")
                    t.rows[k] = dict(row)
                    stored = t.rows[k]
                else:
                    t.recent.append(row)
                    stored = row
                out.changes.append(Change(name, s, "partial", stored, frozenset(row)))
            t.ready = True
