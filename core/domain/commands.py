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

from core.domain.config import PairSettings
from core.domain.events import InstrumentSpec


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
class AddPair(Command):
    """Add a pair of legs to this session at run time (the scanner's ``a``), DISARMED.

    ``pair`` names the pair and its two instrument ids (``leg_a``/``leg_b``, the ids of
    ``spec_a``/``spec_b``; an id the config already uses for the same venue and symbol is
    reused) and its notional cap (USD per leg); the strategy, ladder, sizing, hedge and risk
    settings are the session's (``[strategy]``, ``[ladder]``, ``[sizing]``, ``[hedge]``,
    ``[risk]``). ``spec_a``/``spec_b`` are the legs' specs as the caller knows them (the
    scanner's reading); in paper and live the runtime replaces them with the venue's REST
    specs, loaded the way start-up loads them, before the engine sees the command.

    The engine refuses (an alert ``add pair NAME: refused: why``) when an instrument already
    belongs to a pair, a venue is not connected in this session, the two legs are on one
    venue, the name is taken, the session's only pair hedges IBIT shares or the coin margin,
    in a replay (the file holds no data for a new instrument) and in a live session whose
    order path is not connected or whose restart review is pending (:meth:`Engine.
    add_pair_refusal <core.engine.engine.Engine.add_pair_refusal>`). Live, the runtime first
    checks the new instruments at their venues as start-up checks the configured ones and
    refuses, naming the step, a position or an open order there; then the order path learns
    their specs (:mod:`core.runtime.live_add`). The audit log's ``pair_added`` row records
    the pair (specs and settings); a restart restores it, DISARMED, unless a ``pair_removed``
    row followed (:func:`core.runtime.restart.restore_added_pairs`); :class:`RemovePair`
    takes it out. An added pair opens nothing until :class:`ArmPair` names it, whatever the
    engine's state (arming the engine does not arm it)."""

    pair: PairSettings
    spec_a: InstrumentSpec
    spec_b: InstrumentSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmPair(Command):
    """Let the pair named ``pair`` trade: a pair added at run time starts disarmed (no
    entry, add or hedge of its own) and stays so, whatever the engine's state, until this
    command names it. It then trades as the engine's state allows (ARMED: opens; DISARMED,
    PAUSED, REDUCING, HALTED: as those states say). An unknown or already armed pair: the
    engine says so in its log and changes nothing."""

    pair: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovePair(Command):
    """Take the pair named ``pair`` out of this session (a pair added at run time or one of
    the config's): refused, with an alert ``remove pair NAME: refused: why``, unless it is
    flat (no position on either leg in the ledger, no order of its own in flight, no close
    pending, no position unknown after a refused close): flatten first; the session's only
    pair is not removed. Its instruments stay
    in the ledger (flat) and their feeds stay subscribed (market data only; nothing trades
    them); a live session no longer reads their positions. The audit log's ``pair_removed``
    row records it (a restart does not restore it). (:meth:`Engine.remove_pair
    <core.engine.engine.Engine.remove_pair>`.)"""

    pair: str


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
