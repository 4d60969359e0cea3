"""The funding scanner for the console: a :class:`~core.runtime.scanner.Scanner` on a thread of
its own with its own asyncio loop (the console's loop never carries venue I/O, DESIGN), read
every ``every_s`` seconds and on demand.

The console pulls :meth:`ScanHost.latest` (an immutable :class:`ScanResult`, or None before the
first refresh) at its own pace; :meth:`ScanHost.refresh_now` asks for a refresh at once
(thread-safe, returns at once). A refresh that fails as a whole (every venue down) keeps the
previous result and sets :attr:`ScanHost.error`. Open interest read per symbol (Binance) comes
in the background (the first rows show it "not read yet"); the end of its round is a refresh
at once, so the figures show without waiting ``every_s``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from core.domain.config import Settings
from core.domain.scan import ScanSettings
from core.runtime.scanner import Scanner, ScanResult, wall_ms


class ScanHost:
    """See the module docstring. ``every_s``: seconds between two refreshes."""

    def __init__(
        self,
        settings: Settings,
        scan: ScanSettings | None = None,
        *,
        every_s: float = 30.0,
        history_rows: int = 30,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.settings = settings
        self.scan = scan or ScanSettings(
            horizon_h=settings.strategy.holding_hours,
            notional_usd=float(settings.sizing.base_notional_usd),
        )
        self.every_s = every_s
        self.history_rows = history_rows
        self.clock = clock
        self.refreshes = 0
        self.error = ""
        self._latest: ScanResult | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def latest(self) -> ScanResult | None:
        """The last refresh's result (None before the first)."""
        return self._latest

    def start(self) -> ScanHost:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="arbtui-scan", daemon=True)
            self._thread.start()
        return self

    def refresh_now(self) -> None:
        """Ask for a refresh as soon as the current one (if any) is done."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and close the venues' clients."""
        self._stop = True
        self.refresh_now()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            scanner = Scanner(
                self.settings,
                self.scan,
                history_rows=self.history_rows,
                clock=self.clock,
                wait_open_interest=False,
            )
        except Exception as exc:  # no two live venues: say so on the screen
            self.error = f"{type(exc).__name__}: {exc}"
            return
        try:
            while not self._stop:
                try:
                    self._latest = await scanner.refresh()
                    self.error = ""
                except Exception as exc:  # keep the last result, say why
                    self.error = f"{type(exc).__name__}: {str(exc)[:200]}"
                self.refreshes += 1
                self._wake.clear()
                woken = asyncio.ensure_future(self._wake.wait())
                waits: set[asyncio.Future[Any]] = {woken}
                round_ = scanner.open_interest_round()
                if round_ is not None:
                    waits.add(asyncio.shield(round_))
                _, pending = await asyncio.wait(
                    waits, timeout=self.every_s, return_when=asyncio.FIRST_COMPLETED
                )
                for fut in pending:
                    fut.cancel()
        finally:
            await scanner.close()
