"""Shared fixtures: settings, the shipped replay, and a poller for asynchronous conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.config import Settings, load_config

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED_REPLAY = ROOT / "replays" / "btc_2020-03.jsonl.gz"


@pytest.fixture
def settings() -> Settings:
    """The repository's config.toml."""
    return load_config(ROOT / "config.toml")


def eventually(cond: Callable[[], bool], timeout_s: float = 5.0, every_s: float = 0.01) -> None:
    """Wait until ``cond()`` is true or fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")
