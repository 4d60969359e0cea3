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
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        app.run()
    finally:
        sys.setswitchinterval(previous)
        for scanner in scanners:
            scanner.stop(timeout_s=0.5)
        if host.running:
            # The quit action already waited STOP_TIMEOUT_S for the engine; do not wait again
            # (the engine thread is a daemon and cannot keep the process alive).
            host.stop(timeout_s=0.2 if app.stop_requested else STOP_TIMEOUT_S)
    return app.return_code or host.exit_code
