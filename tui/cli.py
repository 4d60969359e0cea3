"""The ``arbtui`` command line.

    arbtui --replay FILE [--config PATH] [--speed X]       console on a replay
    arbtui --replay FILE --headless [--report json|text]   same engine, no console
    arbtui import FILE... --out REPLAY [--start --end ...]  build a replay from downloads

Exit codes: 0 fine, 1 the run failed, 2 bad input (config, replay file, arguments).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

import msgspec

from core.analysis.replay import ReplayError
from core.domain.config import ConfigError, Settings, load_config

#: ``arbtui NAME ...`` subcommands: module (with ``add_arguments`` and ``run_command``) and
#: a one-line description.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "import": ("tui.commands.import_", "Build a replay file from exchange downloads."),
    "audit": (
        "tui.commands.audit",
        "Verify the audit log's hash chain, or export it (CSV, JSONL).",
    ),
    "backtest": ("tui.backtest_view", "Backtest a replay: statistics, equity and drawdown plots."),
    "optimize": ("tui.commands.optimize", "Grid or random search of config keys on a replay."),
    "worker": ("tui.commands.worker", "Run an order executor on the Redis queue ([queue])."),
}


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arbtui",
        description="Funding-rate arbitrage console, Binance USD-M vs BitMEX.",
        epilog="Subcommands: " + "; ".join(f"arbtui {n}: {d}" for n, (_, d) in SUBCOMMANDS.items()),
    )
    p.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $ARBTUI_CONFIG, ./config.toml, or the packaged defaults)",
    )
    p.add_argument("--replay", metavar="FILE", help="replay a recorded file (JSON lines, .gz ok)")
    p.add_argument("--headless", action="store_true", help="run without the console")
    p.add_argument(
        "--report",
        choices=("json", "text"),
        default="text",
        help="headless report format (default text)",
    )
    p.add_argument(
        "--speed",
        type=float,
        metavar="X",
        help="console replay speed, sim seconds per wall second (0 = max)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Prometheus endpoint port (0 = off; default [metrics] port, 9464)",
    )
    p.add_argument("--paper", action="store_true", help="live feeds of both venues, paper fills")
    p.add_argument(
        "--live",
        action="store_true",
        help="live feeds and real orders on the venues of [venues] (asks first; keys from env)",
    )
    p.add_argument("--yes", action="store_true", help="--live: do not ask for confirmation")
    p.add_argument("--record", metavar="FILE", help="--paper: write every event to a replay file")
    p.add_argument(
        "--duration", type=float, metavar="S", help="--paper --headless: stop after S seconds"
    )
    return p


def _load(path: str | None) -> Settings:
    return load_config(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] and args_list[0] in SUBCOMMANDS:
            return _subcommand(args_list[0], args_list[1:])
        args = _run_parser().parse_args(args_list)
        settings = _load(args.config)
        if args.metrics_port is not None:
            if not 0 <= args.metrics_port <= 65535:
                raise ConfigError(f"--metrics-port: {args.metrics_port} is not a port (0 = off)")
            metrics = msgspec.structs.replace(settings.metrics, port=args.metrics_port)
            settings = msgspec.structs.replace(settings, metrics=metrics)
        if args.paper or args.live:
            return _paper(settings, args)
        if not args.replay:
            _run_parser().print_help()
            print(
                "\narbtui: give --replay FILE (live and paper feeds are not built yet)",
                file=sys.stderr,
            )
            return 2
        if args.headless:
            return _headless(settings, args.replay, args.report)
        return _console(settings, args.replay, args.speed)
    except (ConfigError, ReplayError) as exc:
        print(f"arbtui: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head or less and closed: not an error
        sys.stderr.close()
        return 0


def _subcommand(name: str, argv: list[str]) -> int:
    """Run ``arbtui NAME ...``: the module in :data:`SUBCOMMANDS` gives
    ``add_arguments(parser)`` and ``run_command(args, settings) -> int``."""
    module_name, description = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    p = argparse.ArgumentParser(prog=f"arbtui {name}", description=description)
    p.add_argument("--config", metavar="PATH", help="config file (default as for arbtui)")
    module.add_arguments(p)
    args = p.parse_args(argv)
    settings = _load(args.config)
    code: int = module.run_command(args, settings)
    return code


def _headless(settings: Settings, path: str, fmt: str) -> int:
    from core.analysis.report import format_text
    from core.runtime.headless import run_replay

    report = run_replay(settings, path)
    if fmt == "json":
        print(json.dumps(report))
    else:
        print(format_text(report))
    return 0


def _console(settings: Settings, path: str, speed: float | None) -> int:
    from core.runtime.host import EngineHost
    from tui.console import run_console

    host = EngineHost.for_replay(
        settings, path, speed=(speed or None) if speed is not None else -1.0
    )
    return run_console(host, settings)


def _paper(settings: Settings, args: argparse.Namespace) -> int:
    """``arbtui --paper|--live [--headless] [--record FILE]``: live feeds; paper fills or
    real orders (``--live`` asks for confirmation unless ``--yes``)."""
    from core.runtime.paper_session import build_paper_session

    if args.replay or (args.paper and args.live):
        print("arbtui: give one of --replay FILE, --paper, --live", file=sys.stderr)
        return 2
    mode = "live" if args.live else "paper"
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


def confirm_live(settings: Settings) -> bool:
    """Ask on the terminal before real orders can be sent; True only for ``yes``."""
    v = settings.venues
    where = f"Binance ({v.binance.env}), BitMEX ({v.bitmex.env})"
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


if __name__ == "__main__":
    raise SystemExit(main())
