"""A paper session: live feeds of both venues -> the engine (on its host thread) -> the paper
venue; the same console, or a status line per interval when headless (``arbtui --paper``).

Start-up: a closed venue is refused before anything connects
(:func:`core.venues.registry.check_tradeable`); instrument specs from the venues, the config's
as the fallback, each one said in the log; the engine trades with the specs so found; the
pairs the last run added at run time come back DISARMED with their recorded specs
(:func:`core.runtime.restart.restore_added_pairs`), so that the feeds, a live session's order
path (whose venues check them at start as configured ones) and start-up's position reads
cover them. The host
runs each venue's feed tasks (from its registry plugin) and the health enforcer as tasks on the
engine's loop, so every event is
applied on the engine thread; wall time paces the sockets only (the engine's clock is the
events' ``ts_ms``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from core.domain.commands import AddPair
from core.domain.config import ConfigError, Settings
from core.domain.events import Event, InstrumentSpec
from core.domain.orders import run_tag
from core.engine.engine import Engine
from core.feeds.health import HealthBoard, build_feed_views
from core.feeds.recorder import ReplayRecorder
from core.feeds.sink import EventSink
from core.feeds.together import run_together
from core.observe.statedir import resolve
from core.runtime.feed_health import enforce
from core.runtime.host import EngineHost
from core.runtime.restart import restore_added_pairs
from core.venues import registry
from core.venues.instruments import SpecsResult, load_instrument_specs
from core.venues.registry import FeedContext

STATUS_CHECK_S = 900.0
"""Seconds between two reads of the traded symbols' status at their venues (HAZARDS H23:
delistings and settlements are announced days ahead; a read costs one REST call a venue)."""


@dataclass
class PaperSession:
    """Everything of one paper session. Build with :func:`build_paper_session`."""

    settings: Settings
    engine: Engine
    host: EngineHost
    board: HealthBoard
    specs: SpecsResult
    recorder: ReplayRecorder | None = None
    sink: EventSink | None = None
    feeds: dict[str, Any] = field(default_factory=dict)
    status_check_s: float = STATUS_CHECK_S
    """Period of the traded symbols' status read (:meth:`watch_status`)."""

    async def run(self, host: EngineHost) -> None:
        """The host task: feeds, pollers and the health rule, until cancelled."""
        eng = self.engine
        refused: set[tuple[str, str]] = set()

        def bad(ev: Event, why: str) -> None:  # said once per instrument, every one counted
            if (ev.venue, ev.symbol) not in refused:
                refused.add((ev.venue, ev.symbol))
                eng.alert(f"{ev.venue} {ev.symbol}: event refused, {why} (further ones counted)")

        self.sink = sink = EventSink(host.feed, recorder=self.recorder, on_bad=bad)

        def log(kind: str, text: str) -> None:
            if kind == "alert":
                eng.alert(text)
            else:
                eng.emit(kind, text)

        by_venue: dict[str, list[str]] = {}
        now = eng.settings  # the configured pairs and those start-up restored
        for iid in now.traded_ids():
            spec = now.instruments[iid]
            by_venue.setdefault(spec.venue, []).append(spec.symbol)
        tasks: list[Any] = [enforce(self.board, eng, host.observers.metrics), self.watch_status()]
        for venue, symbols in by_venue.items():
            build = registry.plugin(venue).feed_tasks
            if build is None:  # checked before start-up; a closed venue is never dialled
                raise registry.VenueClosedError(f"{venue} has no live feed")
            ctx = FeedContext(symbols, sink, self.board, now, log, self.feeds)
            tasks += build(ctx)
        try:
            await run_together(*tasks)  # at the end sockets and ccxt sessions are closed
        finally:
            sink.flush()
            if self.recorder is not None:
                path = self.recorder.close()
                eng.emit("state", f"recorded {self.recorder.events} events to {path}")

    async def watch_status(self) -> None:
        """Every ``status_check_s``, read again whether each traded symbol (a pair added at
        run time included) is trading at its venue (with its specs, off the loop) and tell
        the engine (:meth:`~core.engine.engine.Engine.set_not_trading`). A venue that cannot
        be read keeps what was known of its symbols."""
        eng = self.engine
        while True:
            await asyncio.sleep(self.status_check_s)
            ids = eng.settings.traded_ids()
            found = await asyncio.to_thread(load_instrument_specs, eng.settings, ids=ids)
            now = not_trading_keys(found)
            unread = {
                (found.specs[i].venue, found.specs[i].symbol)
                for i in ids
                if found.sources[i] == "config" and i not in found.not_trading
            }
            kept = {k: w for k, w in eng.not_trading.items() if k in unread}
            eng.set_not_trading(kept | now)

    async def add_pair(self, c: AddPair) -> None:
        """Carry out :class:`~core.domain.commands.AddPair` (the host runs it on the engine's
        loop), each step said in the log: the engine's checks first (a refusal is said at
        once, naming why); then the two legs' specs from the venues' REST endpoints as
        start-up reads them (:func:`core.venues.instruments.load_instrument_specs`, off the
        loop; the command's specs are the fallback, each source said in the log); live, then
        the venues' checks and the order path (``EngineHost.live_add``:
        :func:`core.runtime.live_add.admit`; a refusal names the step); then the engine adds
        the pair, DISARMED (a recording's header lists its instruments from then on); then
        each venue's plugin subscribes the new symbols on its running feed and funding
        pollers (``VenuePlugin.subscribe``). A subscription that fails takes the pair out
        again (it is flat and disarmed), saying so."""
        eng = self.engine
        name = c.pair.name
        if eng.add_pair_refusal(c.pair, c.spec_a, c.spec_b) is not None:
            eng.handle(c)  # refuses, saying why
            return
        legs = f"{c.spec_a.venue} {c.spec_a.symbol} / {c.spec_b.venue} {c.spec_b.symbol}"
        eng.emit("state", f"add pair {name}: reading the specs of {legs} from the venues")
        staged = msgspec.structs.replace(
            eng.settings,
            instruments={
                **eng.settings.instruments,
                c.pair.leg_a: c.spec_a,
                c.pair.leg_b: c.spec_b,
            },
        )
        ids = [c.pair.leg_a, c.pair.leg_b]
        found = await asyncio.to_thread(load_instrument_specs, staged, ids=ids)
        for note in found.notes:
            eng.emit("state", note)
        closed = not_trading_keys(found)
        if closed:
            said = "; ".join(f"{v} {sym}: {w}" for (v, sym), w in closed.items())
            eng.alert(f"add pair {name}: refused: not trading at the venue ({said})")
            return
        new = [found.specs[ids[0]], found.specs[ids[1]]]
        if eng.mode == "live":
            admit = self.host.live_add
            if admit is None:
                eng.alert(f"add pair {name}: refused: live execution is not connected")
                return
            eng.emit(
                "state",
                f"add pair {name}: checking {legs} at the venues (instrument, one-way mode, "
                "position, open orders)",
            )
            why = await admit(new)
            if why is not None:
                eng.alert(f"add pair {name}: refused: {why}")
                return
        eng.handle(replace(c, spec_a=new[0], spec_b=new[1]))
        if eng.pair_named(name) is None:
            return  # refused meanwhile (said by the engine)
        if self.recorder is not None:  # the recording's header lists what it holds
            self.recorder.add_instruments(new)
        try:
            await self.subscribe(new, f"add pair {name}")
        except Exception as exc:
            eng.alert(f"add pair {name}: feed subscription failed ({exc}): taking it out again")
            eng.remove_pair(name)

    async def subscribe(self, specs: list[InstrumentSpec], what: str) -> None:
        """Each venue's plugin subscribes ``specs`` on its running feed and funding pollers
        (``VenuePlugin.subscribe``; a venue that cannot is an alert); ``what`` starts each
        log line."""
        eng = self.engine
        for venue in dict.fromkeys(s.venue for s in specs):
            subscribe = registry.plugin(venue).subscribe
            if subscribe is None:
                eng.alert(f"{what}: {venue} cannot subscribe at run time")
                continue
            await subscribe(self.feeds, [s for s in specs if s.venue == venue])
            symbols = ", ".join(s.symbol for s in specs if s.venue == venue)
            eng.emit("state", f"{what}: {venue} {symbols} subscribed")


def not_trading_keys(found: SpecsResult) -> dict[tuple[str, str], str]:
    """``found.not_trading`` by (venue, symbol), as the engine keys instruments."""
    return {(found.specs[i].venue, found.specs[i].symbol): w for i, w in found.not_trading.items()}


def check_tradeable(settings: Settings, mode: str) -> None:
    """Refuse, before anything connects or asks, a paper or live run on a venue that can no
    longer trade (:class:`~core.venues.registry.VenueClosedError`, exit code 2)."""
    traded = [settings.instruments[i].venue for i in settings.traded_ids()]
    registry.check_tradeable(list(dict.fromkeys(traded)), int(time.time() * 1000), mode)


def check_live_keys(settings: Settings, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse ``--live``, before anything connects or asks, when an API key or secret of a
    traded venue is not in the environment, naming every missing variable (exit code 2)."""
    from core.venues.ccxt_base import KEY_ENV

    traded = dict.fromkeys(settings.instruments[i].venue for i in settings.traded_ids())
    missing = [var for venue in traded for var in KEY_ENV.get(venue, ()) if not environ.get(var)]
    if missing:
        raise ConfigError(
            f"--live needs {', '.join(missing)} in the environment (API key and secret of "
            "each traded venue); nothing was started"
        )


def build_paper_session(
    settings: Settings,
    *,
    record: str | Path | None = None,
    specs: SpecsResult | None = None,
    say: Callable[[str], None] | None = None,
    mode: str = "paper",
) -> PaperSession:
    """Read the instrument specs (unless given), build the engine in ``mode`` (``paper``:
    the paper venue fills; ``live``: orders go to the venues through
    :func:`core.runtime.live_link.live_task`) and its host with the feed tasks. ``say``
    gets each start-up note (specs source) as well."""
    check_tradeable(settings, mode)
    found = specs or load_instrument_specs(settings, ids=settings.traded_ids())
    effective = msgspec.structs.replace(settings, instruments=found.specs)
    started_s = int(time.time())
    engine = Engine(effective, mode=mode, run_tag=run_tag(started_s))
    for note in found.notes:
        engine.emit("state", note)
        if say is not None:
            say(note)
    engine.set_not_trading(not_trading_keys(found))
    board = HealthBoard()
    recorder = None
    if record is not None:
        instruments = [found.specs[i] for i in effective.traded_ids()]
        recorder = ReplayRecorder(record, instruments, by="arbtui --paper --record")
    session = PaperSession(effective, engine, None, board, found, recorder)  # type: ignore[arg-type]
    tasks: list[Any] = [session.run]
    if mode == "live":
        from core.runtime.live_link import live_task

        tasks.append(live_task)
    session.host = EngineHost(engine, None, tasks=tasks, run_id=f"{mode}-{started_s}")
    session.host.add_pair = session.add_pair  # set before the host's loop takes commands
    engine.session_venues = frozenset(  # a pair added later must trade on these venues
        effective.instruments[i].venue for i in effective.traded_ids()
    )
    # the last run's added pairs, before the feeds, the order path and start-up's reads
    if restore_added_pairs(engine, resolve(settings.audit.path, mode)) and recorder is not None:
        now = engine.settings
        recorder.add_instruments([now.instruments[i] for i in now.traded_ids()])
    session.host.feed_views = lambda: build_feed_views(board)
    return session
