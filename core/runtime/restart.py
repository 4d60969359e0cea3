"""Live start-up's look at what is already there: each traded instrument's position and open
orders at its venue, and the last run's state from the audit log; the comparison and the
adoption are :mod:`core.engine.restart`'s."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain.ledger import Key
from core.engine.restart import RestartPlan, plan, rebuild
from core.observe.audit.store import open_readonly
from core.observe.statedir import resolve

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.venues.ccxt_base import LiveVenue

KINDS = ("fill", "pair_adopted")


def last_run_rows(db_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, payload)`` of the fills and adoptions of the newest run that has any, in
    order; [] when there is no audit log yet. Raises
    :class:`~core.observe.audit.store.AuditStoreError` for a file that is not an audit log."""
    if not db_path.is_file():
        return []
    conn = open_readonly(db_path)
    try:
        marks = ",".join("?" * len(KINDS))
        got = conn.execute(
            f"SELECT run_id FROM audit WHERE kind IN ({marks}) ORDER BY seq DESC LIMIT 1", KINDS
        ).fetchone()
        if got is None:
            return []
        rows = conn.execute(
            f"SELECT kind, payload FROM audit WHERE run_id = ? AND kind IN ({marks}) ORDER BY seq",
            (got[0], *KINDS),
        ).fetchall()
    except sqlite3.Error as exc:
        raise OSError(f"{db_path}: audit log unreadable ({exc})") from None
    finally:
        conn.close()
    return [(str(k), json.loads(p)) for k, p in rows]


async def look_at_start(engine: Engine, venues: dict[str, LiveVenue]) -> RestartPlan:
    """Read every traded instrument's position and open orders, and the last run's audit rows;
    what :func:`core.engine.restart.plan` makes of them. A failed read raises (start-up HALTs
    with the reason: the engine must not trade beside positions it could not see)."""
    held: dict[Key, Decimal] = {}
    orders: dict[Key, list[str]] = {}
    for key in engine.traded_keys():
        venue, symbol = key
        held[key] = Decimal(await venues[venue].position(symbol))
        orders[key] = await venues[venue].open_orders(symbol)
    if not any(held.values()) and not any(orders.values()):
        return RestartPlan([], [], held, orders)
    db = resolve(engine.settings.audit.path, engine.mode)
    rows = await asyncio.to_thread(last_run_rows, db)
    return plan(held, orders, rebuild(rows, engine.settings), engine.settings)
