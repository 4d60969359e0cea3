"""Public entry of the console for the CLI: ``run_console(host, settings) -> exit code``.

Starts the engine host if it is not running, runs :class:`~tui.app.ArbConsole` on the main
thread, and always stops the host afterwards, so the process exits within about 2 s of quit.
The exit code is the host's after quit: 2 when the replay stopped on a bad line, 1 when the
engine died, else 0.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from core.runtime.host import EngineHost
from core.runtime.scan_host import ScanHost
from tui.app import STOP_TIMEOUT_S, ArbConsole

SWITCH_INTERVAL_S = 0.0005
"""Thread switch interval once running (DESIGN: keeps the engine thread's latency low)."""

GC_THRESHOLDS = (100_000, 50, 1000)
"""The cyclic collector's thresholds once running: a replay flat out allocates fast enough to
run a full collection (35-60 ms, holding every thread) several times a second at Python's
defaults (700, 10, 10); these measured 1 collection instead of 535 in 3 s and cut the
console loop's lag p99 from 136 to 112 ms (bench/console_bench.py)."""


def run_console(host: EngineHost, settings: Any) -> int:
    """Run the console against ``host`` until the operator quits; return the exit code."""
    host.start()  # idempotent: a host the CLI already started keeps running
    scanners: list[ScanHost] = []

    def start_scanner() -> ScanHost:  # on the first ``s``: the scanner's own thread
        scanners.append(ScanHost(settings).start())
        return scanners[-1]

    app = ArbConsole(host, settings, scanner=start_scanner if settings is not None else None)
    gc.collect()
    gc.freeze()
    previous = sys.getswitchinterval()
    previous_gc = gc.get_threshold()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        app.run()
    finally:
        sys.setswitchinterval(previous)
        gc.set_threshold(*previous_gc)
        for scanner in scanners:
            scanner.stop(timeout_s=0.5)
        if host.running:
            # The quit action already waited STOP_TIMEOUT_S for the engine; do not wait again
            # (the engine thread is a daemon and cannot keep the process alive).
            host.stop(timeout_s=0.2 if app.stop_requested else STOP_TIMEOUT_S)
    code = app.return_code or host.exit_code
    why = host.failed or host.attention.state_reason
    if code and why:  # the banner said it; the terminal keeps it once the screen is gone
        print(f"arbtui: {why}", file=sys.stderr)
    return code
