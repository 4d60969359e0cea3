"""The kill switch through a real tmux, with its extended keys off, on and always (HAZARDS H25:
Textual 8.2.7/8.2.8 parse the Kitty keyboard protocol, and tmux with ``extended-keys always``
can misdeliver or stall keys). The console runs the shipped replay in a tmux server of its own
(``-L``, no user config); keys go in with ``send-keys`` as a terminal would type them, and the
screen is read back with ``capture-pane``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"


class Tmux:
    """One tmux server (its own socket) with one 100x30 window."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "m")

    def wait_for(self, seen: Callable[[str], bool], timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.screen()
            if seen(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"not on screen after {timeout_s} s:\n{self.screen()}")


@contextmanager
def console(extended_keys: str) -> Iterator[Tmux]:
    t = Tmux(f"arbtui-test-{uuid.uuid4().hex[:8]}")
    t("-f", "/dev/null", "new-session", "-d", "-s", "m", "-x", "100", "-y", "30")
    try:
        t("set", "-s", "extended-keys", extended_keys)
        t("set", "-g", "default-terminal", "tmux-256color")
        cmd = (
            f"cd {ROOT} && PYTHONPATH={ROOT} ARBTUI_METRICS_PORT=0 "
            f"{sys.executable} -m tui.cli --replay {REPLAY} --speed 1"
        )
        t("send-keys", "-t", "m", cmd, "Enter")
        t.wait_for(lambda s: "ARMED" in s and "REPLAY" in s)
        yield t
    finally:
        subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True)


@pytest.mark.parametrize("extended_keys", ["off", "on", "always"])
@pytest.mark.parametrize("confirm", ["y", "C-k"])
def test_the_kill_switch_gets_through_tmux_whatever_its_extended_keys(
    extended_keys: str, confirm: str
) -> None:
    with console(extended_keys) as t:
        t("send-keys", "-t", "m", "C-k")
        asked = t.wait_for(lambda s: "KILL SWITCH" in s, timeout_s=10)
        assert "HALTED" not in asked
        t("send-keys", "-t", "m", confirm)
        done = t.wait_for(lambda s: "HALTED  kill switch" in s, timeout_s=10)
        assert "HALTED  REPLAY" in done
        assert "KILL SWITCH" not in done  # the question is gone
        t("send-keys", "-t", "m", "q")
        t.wait_for(lambda s: "HALTED  REPLAY" not in s, timeout_s=10)  # quit went through too
