"""Operator commands: imperative requests into the engine (DESIGN "Risk and operator control").

A command is a request, not a decision: the engine's risk gate decides what it does in the
current trading state. Commands cross from the console thread into the engine thread through
``EngineHost.submit`` (a thread-safe queue). ``source`` records who sent it (user, tty or SSH
client) for the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of every command. ``source`` is free text such as ``"alice@pts/3 (ssh 10.0.0.5)"``."""

    source: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Arm(Command):
    """Allow the strategy to open and add (DISARMED, PAUSED, REDUCING or HALTED -> ARMED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Disarm(Command):
    """Back to watch-only: no order is sent by the strategy (open positions stay)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(Command):
    """No new entries or adds; hedging and exits continue (ARMED -> PAUSED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume(Command):
    """PAUSED -> ARMED."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Flatten(Command):
    """Close every leg with reduce-only orders and go to REDUCING."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Kill(Command):
    """Kill switch: cancel all open orders, flatten every leg reduce-only, HALT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleRestart(Command):
    """The operator's answer to what start-up found at the venues (live): ``adopt`` (book
    it, cancel unknown open orders, stay DISARMED), ``flatten`` (book it, cancel them, close
    everything reduce-only) or ``leave`` (touch nothing; HALTED for the session). See
    :mod:`core.engine.restart`."""

    choice: Literal["adopt", "flatten", "leave"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayTogglePause(Command):
    """Pause or continue the replay clock (replay mode only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySpeed(Command):
    """Step the replay speed up (``step=+1``) or down (``step=-1``) along
    :data:`core.analysis.replay.SPEED_STEPS`; the last step is "as fast as possible"."""

    step: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown(Command):
    """Stop the engine loop (quit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportAudit(Command):
    """Write this session's audit rows to a CSV file under the state directory (``exports/``).

    The host runs it on a worker thread of its own, never on the engine's loop. ``progress``
    gets ``(rows done, rows total)`` and ``done`` gets ``(message, ok)``; both are called from
    that worker thread (the console hops back with ``call_from_thread``)."""

    progress: Callable[[int, int], None] | None = field(default=None, compare=False)
    done: Callable[[str, bool], None] | None = field(default=None, compare=False)
