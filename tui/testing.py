"""Helpers for the console's Pilot and snapshot tests (imported by ``tests/test_tui_*.py``).

:func:`eventually` polls a condition while letting the app run (never a fixed sleep).
:class:`RecordingHost` is the real :class:`~core.runtime.host.EngineHost` that also records, with a
monotonic timestamp, every command it is handed, so a test can measure key-to-engine latency
without a mock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from core.domain.commands import Command
from core.runtime.host import EngineHost

POLL_S = 0.01
"""Pause between two checks of :func:`eventually`, in seconds."""


async def eventually(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or condition}")
        await pilot.pause(POLL_S)


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Block this (test) thread until ``condition()`` is truthy, for use outside an app loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or condition}")
        time.sleep(POLL_S)


class RecordingHost(EngineHost):
    """The real engine host, recording ``(time.perf_counter(), command)`` per submit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: list[tuple[float, Command]] = []
        self._record_lock = threading.Lock()

    def submit(self, command: Command) -> None:
        with self._record_lock:
            self.submitted.append((time.perf_counter(), command))
        super().submit(command)

    def commands_of(self, kind: type[Command]) -> list[tuple[float, Command]]:
        """The recorded submissions of one command type, oldest first."""
        with self._record_lock:
            return [(t, c) for t, c in self.submitted if isinstance(c, kind)]
