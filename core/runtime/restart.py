"""Start-up's look at what is already there: the pairs the last run added at run time
(:func:`restore_added_pairs`, paper and live, before anything connects), then (live) each
traded instrument's position and open orders at its venue, and the last run's state from the
audit log; the comparison and the adoption are :mod:`core.engine.restart`'s."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.domain.ledger import Key
from core.engine.restart import RestartPlan, added_pairs, plan, rebuild
from core.observe.audit.store import AuditStoreError, open_readonly
from core.observe.statedir import resolve

if TYPE_CHECKING:
    from core.engine.engine import Engine
    from core.venues.ccxt_base import LiveVenue

KINDS = ("fill", "pair_adopted")
PAIR_KINDS = ("pair_added", "pair_armed", "pair_removed")


def last_run_rows(
    db_path: Path, kinds: tuple[str, ...] = KINDS, newest_of: tuple[str, ...] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, payload)`` of the rows of ``kinds`` (default: fills and adoptions) of the
    newest run that has a row of ``newest_of`` (default: ``kinds``), in order; [] when there
    is no audit log yet. Raises :class:`~core.observe.audit.store.AuditStoreError` for a file
    that is not an audit log, OSError for one that cannot be read."""
    if not db_path.is_file():
        return []
    newest_of = newest_of or kinds
    conn = open_readonly(db_path)
    try:
        marks = ",".join("?" * len(newest_of))
        got = conn.execute(
            f"SELECT run_id FROM audit WHERE kind IN ({marks}) ORDER BY seq DESC LIMIT 1",
            newest_of,
        ).fetchone()
        if got is None:
            return []
        marks = ",".join("?" * len(kinds))
        rows = conn.execute(
            f"SELECT kind, payload FROM audit WHERE run_id = ? AND kind IN ({marks}) ORDER BY seq",
            (got[0], *kinds),
        ).fetchall()
    except sqlite3.Error as exc:
        raise OSError(f"{db_path}: audit log unreadable ({exc})") from None
    finally:
        conn.close()
    return [(str(k), json.loads(p)) for k, p in rows]


def restore_added_pairs(engine: Engine, db_path: Path) -> int:
    """Start-up (paper and live, before any feed, position read or order): add again the
    pairs the newest run that added or removed a pair at run time still had at its end
    (:func:`core.engine.restart.added_pairs`: its ``pair_added`` rows not followed by
    ``pair_removed``), with their recorded specs and settings, DISARMED (audit
    ``pair_added`` again, ``restored`` true: the next restart finds them in this run).
    A pair that was armed comes back disarmed, and an alert says so; a name the config now
    has is left to the config (a state line); any other refusal is the engine's alert
    ``restore pair NAME: refused: why`` (a position on its legs then meets start-up's review
    as one no configured pair trades). An unreadable log or row is an alert naming it;
    nothing is restored then. Returns how many pairs were restored."""
    try:
        rows = last_run_rows(db_path, PAIR_KINDS, ("pair_added", "pair_removed"))
        found = added_pairs(rows)
    except (OSError, AuditStoreError, ValueError) as exc:
        engine.alert(f"restore added pairs: {db_path}: {exc}: none restored")
        return 0
    restored = 0
    for a in found:
        name = a.pair.name
        if any(p.name == name for p in engine.settings.pairs):
            engine.emit("state", f"restore pair {name}: the config has a pair {name} now: kept")
            continue
        if not engine.add_pair(a.pair, a.spec_a, a.spec_b, restored=True):
            continue
        restored += 1
        if a.armed:
            engine.alert(
                f"restore pair {name}: it was armed in the last run; restored DISARMED: arm "
                f"it (palette: Arm pair {name}) once its legs are reviewed"
            )
    return restored


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
