"""``arbtui [--replay FILE | --paper | --live] ...``: a run of the engine, with or without the
console.

    arbtui --replay FILE [--speed X]                      console on a replay
    arbtui --replay FILE --headless [--report json|text]  same engine, no console, a report
    arbtui --paper [--headless] [--record FILE]           live feeds, paper fills
    arbtui --live [--yes] [--headless]                    live feeds, real orders (asks first)
"""

from __future__ import annotations

import argparse
import math
import sys

import msgspec

from core.domain.config import ConfigError, Settings
from core.domain.errors import BadInput

#: Options of a run (none of them applies to a subcommand).
RUN_OPTIONS = (
    "replay_file", "paper", "live", "headless", "report", "speed", "metrics_port", "yes", "record",
    "duration",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The run's options, as a group of ``parser``."""
    group = parser.add_argument_group("a run (without a subcommand)")
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--replay",
        dest="replay_file",  # not "replay": that is the FILE of backtest and optimize
        metavar="FILE",
        help="replay a recorded file (JSON lines, .gz ok)",
    )
    source.add_argument(
        "--paper", action="store_true", help="live feeds of the venues, paper fills"
    )
    source.add_argument(
        "--live",
        action="store_true",
        help="live feeds and real orders on the venues of [venues] (asks first; keys from env)",
    )
    group.add_argument("--headless", action="store_true", help="run without the console")
    group.add_argument(
        "--report",
        choices=("json", "text"),
        help="--replay --headless: report format (default text)",
    )
    group.add_argument(
        "--speed",
        type=speed,
        metavar="X",
        help="console replay speed, sim seconds per wall second (0 = max)",
    )
    group.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Prometheus endpoint port (0 = off; default [metrics] port, 9464)",
    )
    group.add_argument("--yes", action="store_true", help="--live: do not ask for confirmation")
    group.add_argument(
        "--record", metavar="FILE", help="--paper: write every event to a replay file"
    )
    group.add_argument(
        "--duration", type=float, metavar="S", help="--paper --headless: stop after S seconds"
    )


def speed(text: str) -> float:
    """``--speed X``: a finite number >= 0 (0 = as fast as possible); anything else is refused
    (argparse: ``argument --speed: ...``, exit 2), never run at the default."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a replay speed: sim seconds per wall second, a finite number >= 0"
            " (0 = as fast as possible)"
        )
    return value


def given(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The run options set on the command line (those that differ from their defaults)."""
    return [
        "--" + name.replace("_", "-")
        for name in RUN_OPTIONS
        if getattr(args, name, None) != parser.get_default(name)
    ]


def check_combination(args: argparse.Namespace) -> None:
    """Refuse an option the chosen run would ignore (:class:`~core.domain.errors.BadInput`,
    exit 2), naming the option and the runs it applies to: nothing is run on a guess."""
    session = args.paper or args.live
    wrong = [
        (args.record is not None and not session, "--record applies to --paper and --live "
         "(a replay is already a recording)"),
        (args.duration is not None and not (session and args.headless),
         "--duration applies to --paper or --live with --headless"),
        (args.yes and not args.live, "--yes applies to --live only"),
        (args.report is not None and (session or not args.headless),
         "--report applies to --replay FILE --headless"),
        (args.speed is not None and (session or args.headless),
         "--speed applies to a replay in the console (not --headless, --paper or --live)"),
    ]  # fmt: skip
    said = [why for bad, why in wrong if bad]
    if said:
        raise BadInput("; ".join(said) + "; nothing was run")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the console, a headless replay, or a paper or live session (after
    :func:`check_combination`)."""
    check_combination(args)
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65535:
            raise ConfigError(f"--metrics-port: {args.metrics_port} is not a port (0 = off)")
        metrics = msgspec.structs.replace(settings.metrics, port=args.metrics_port)
        settings = msgspec.structs.replace(settings, metrics=metrics)
    if args.paper or args.live:
        return _session(settings, args)
    if args.headless:
        return _headless(settings, args.replay_file, args.report or "text")
    return _console(settings, args.replay_file, args.speed)


def _headless(settings: Settings, path: str, fmt: str) -> int:
    from core.runtime.headless import headless_replay

    return headless_replay(settings, path, fmt)


def _console(settings: Settings, path: str, speed: float | None) -> int:
    from core.runtime.host import EngineHost
    from tui.console import run_console

    host = EngineHost.for_replay(
        settings, path, speed=(speed or None) if speed is not None else -1.0
    )
    return run_console(host, settings)


def _session(settings: Settings, args: argparse.Namespace) -> int:
    """``--paper|--live [--headless] [--record FILE]``: live feeds; paper fills or real orders
    (``--live`` asks for confirmation unless ``--yes``)."""
    from core.runtime.paper_session import build_paper_session, check_tradeable

    mode = "live" if args.live else "paper"
    check_tradeable(settings, mode)  # a closed venue: exit 2 before asking anything
    if args.live and not args.yes and not confirm_live(settings):
        print("arbtui: not confirmed; nothing was started", file=sys.stderr)
        return 1
    session = build_paper_session(
        settings,
        record=args.record,
        say=lambda note: print(f"arbtui: {note}", file=sys.stderr),
        mode=mode,
    )
    if args.headless:
        from core.runtime.status import run_headless

        every = settings.feeds.status_every_s
        return run_headless(session, every_s=every, duration_s=args.duration)
    from tui.console import run_console

    return run_console(session.host, session.settings)


def _venue_where(settings: Settings, name: str) -> str:
    """``binance (demo)``, or with a configured REST host ``binance (demo, http://host)``:
    where its orders will go, as the config says."""
    venue = getattr(settings.venues, name, None)
    said = [x for x in (getattr(venue, "env", None), getattr(venue, "rest_url", None)) if x]
    return f"{name} ({', '.join(said)})" if said else name


def confirm_live(settings: Settings) -> bool:
    """Ask on the terminal before real orders can be sent; True only for ``yes``."""
    traded = sorted({settings.instruments[i].venue for i in settings.traded_ids()})
    where = ", ".join(_venue_where(settings, name) for name in traded)
    print(
        f"arbtui --live: orders will go to {where}. The engine starts "
        f"{settings.risk.start_state}; arming it lets it trade. Type yes to go on: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    try:
        return input().strip().lower() == "yes"
    except EOFError:
        return False
