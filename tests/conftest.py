"""Shared fixtures: settings, the shipped replay, and a poller for asynchronous conditions."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.domain.config import Settings, load_config

pytest_plugins = ["tests.redis_fixtures"]  # the per-test Redis key prefix fixture

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED_REPLAY = ROOT / "replays" / "btc_2020-03.jsonl.gz"
HISTORY_CONFIG = ROOT / "configs" / "binance_bitmex_2020.toml"
"""The config the shipped March 2020 (Binance + BitMEX) replay runs with."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a stale opt-in build (bench/build_compiled.sh): a module compiled with
    mypyc is imported before its source, so a source edited after the build would go
    untested."""
    from core.runtime.compiled import stale_builds, stale_message

    stale = stale_builds(ROOT)
    if stale:
        pytest.exit(stale_message(stale), returncode=2)


@pytest.fixture(scope="session", autouse=True)
def _private_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every run of the suite (and the arbtui processes it starts) writes its audit log and
    file log under a temporary state directory, and serves no metrics endpoint unless a
    test asks for one: nothing lands in the repository or $HOME, no port is contended."""
    saved = {k: os.environ.get(k) for k in ("ARBTUI_STATE_DIR", "ARBTUI_METRICS_PORT")}
    os.environ["ARBTUI_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    os.environ["ARBTUI_METRICS_PORT"] = "0"
    yield None
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def settings() -> Settings:
    """The BitMEX-history config the March 2020 replay runs on (:data:`HISTORY_CONFIG`)."""
    return load_config(HISTORY_CONFIG)


def eventually(cond: Callable[[], bool], timeout_s: float = 5.0, every_s: float = 0.01) -> None:
    """Wait until ``cond()`` is true or fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


async def aeventually(
    cond: Callable[[], bool], timeout_s: float = 5.0, every_s: float = 0.01
) -> None:
    """Wait (without blocking the loop) until ``cond()`` or fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")
