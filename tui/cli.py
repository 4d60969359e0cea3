"""The ``arbtui`` command line: one argparse parser with a subparser per subcommand.

    arbtui [--replay FILE | --paper | --live] [--headless] ...   a run (tui/commands/run.py)
    arbtui import FILE... --out REPLAY [--start --end ...]      build a replay from downloads
    arbtui backtest FILE [--set KEY=VALUE ...]                   statistics and equity plots
    arbtui optimize FILE --grid KEY=SPEC ...                     search config keys on a replay
    arbtui audit {verify,export} ...                             the audit log
    arbtui worker [--id NAME]                                    an executor on the Redis queue
    arbtui scan [--venues A,B] [--min-apr X] [--top N] [--json] [--watch S]   funding scanner

Each subcommand's code is in ``tui/commands/<name>.py`` (``add_arguments(parser)`` and
``run_command(args, settings) -> int``). Any :class:`~core.domain.errors.ArbtuiError` ends the
command with one line on stderr and its exit code: 0 fine, 1 the run failed, 2 bad input
(config, replay file, arguments).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain.config import Settings, load_config
from core.domain.errors import EXIT_BAD_INPUT, ArbtuiError
from core.runtime.compiled import stale_builds, stale_message
from tui.commands import audit, backtest, import_, optimize, run, scan, worker


@dataclass(frozen=True, slots=True)
class Subcommand:
    """``arbtui NAME ...``: its one-line help and the functions of its module."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run_command: Callable[[argparse.Namespace, Settings], int]


SUBCOMMANDS = (
    Subcommand(
        "import", "build a replay file from exchange downloads",
        import_.add_arguments, import_.run_command,
    ),
    Subcommand(
        "backtest", "backtest a replay: statistics, equity and drawdown plots",
        backtest.add_arguments, backtest.run_command,
    ),
    Subcommand(
        "optimize", "grid or random search of config keys on a replay",
        optimize.add_arguments, optimize.run_command,
    ),
    Subcommand(
        "audit", "verify the audit log's hash chain, or export it (CSV, JSONL)",
        audit.add_arguments, audit.run_command,
    ),
    Subcommand(
        "worker", "run an order executor on the Redis queue ([queue])",
        worker.add_arguments, worker.run_command,
    ),
    Subcommand(
        "scan", "rank every perpetual two venues both list by net funding carry",
        scan.add_arguments, scan.run_command,
    ),
)  # fmt: skip

CONFIG_HELP = "config file (default: $ARBTUI_CONFIG, ./config.toml, or the packaged defaults)"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the run's options, and one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="arbtui",
        description="Funding-rate arbitrage console: a replay, paper or live run of the engine "
        "with or without the console, and the commands around it.",
        epilog="Exit codes: 0 fine, 1 the run failed, 2 bad input (config, replay file, "
        "arguments). 'arbtui COMMAND --help' describes a command.",
    )
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    run.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help[0].upper() + cmd.help[1:])
        # SUPPRESS: given before the command, --config is not reset by the subparser
        p.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
        cmd.add_arguments(p)
        p.set_defaults(run_command=cmd.run_command)
    return parser


MODES = (
    ("arbtui --replay FILE", "replay a recorded file in the console (e.g. "
     "replays/btc_binance_bybit_2024-03.jsonl.gz); --headless for a report"),
    ("arbtui --paper", "live feeds of the venues, paper fills (--headless: status lines)"),
    ("arbtui --live", "live feeds and real orders (keys from the environment; asks first)"),
)  # fmt: skip
"""The three modes of a run, as ``arbtui`` with no arguments lists them."""


def modes_text() -> str:
    """What plain ``arbtui`` prints: the modes of a run and the commands."""
    lines = ["arbtui: choose a mode of a run:"]
    lines += [f"  {usage:<22} {what}" for usage, what in MODES]
    lines.append("or a command: " + ", ".join(c.name for c in SUBCOMMANDS))
    lines.append("'arbtui --help' lists every option; 'arbtui COMMAND --help' a command's.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    prog = f"arbtui {args.command}" if args.command else "arbtui"
    if args.command and (extra := run.given(args, parser)):
        parser.error(f"{', '.join(extra)}: an option of a run, not of 'arbtui {args.command}'")
    if not args.command and not (args.replay_file or args.paper or args.live):
        print(modes_text(), file=sys.stderr)
        return EXIT_BAD_INPUT
    stale = stale_builds()
    if stale:  # the old compiled code would run, not the source as it is now
        print(f"{prog}: {stale_message(stale)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        settings = load_config(args.config)
        if args.live and not args.command:
            from core.runtime.paper_session import check_live_keys, check_tradeable

            check_tradeable(settings, "live")  # a closed venue first: no key can trade it
            check_live_keys(settings)  # before anything connects or asks
        if args.command:
            code: int = args.run_command(args, settings)
            return code
        return run.run_command(args, settings)
    except ArbtuiError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head or less and closed: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
