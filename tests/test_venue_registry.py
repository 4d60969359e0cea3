"""The venue registry: every registered venue has a plugin; BitMEX is history and a paper or
live run with a BitMEX leg is refused before anything connects."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from core.domain.config import Settings, load_config
from core.runtime.paper_session import build_paper_session
from core.venues import registry
from tests.conftest import HISTORY_CONFIG, ROOT

CLOSED_MS = 1_790_136_000_000  # 2026-09-23T04:00:00Z


def test_every_registered_venue_has_a_plugin_of_its_name() -> None:
    for name in registry.names():
        assert registry.plugin(name).name == name
    with pytest.raises(KeyError, match="unknown venue 'nope'; known: binance, bybit, bitmex"):
        registry.plugin("nope")


def test_bitmex_is_live_until_reduce_only_then_closed_at_its_dates() -> None:
    life = registry.plugin("bitmex").lifecycle
    assert registry.utc_date(CLOSED_MS) == "2026-09-23 04:00 UTC"
    assert life.closed_at_ms == CLOSED_MS
    assert life.state(CLOSED_MS - 1) == "reduce_only"
    assert life.state(CLOSED_MS) == "closed"
    assert life.state(1_787_702_400_000 - 1) == "live"  # 2026-08-26T00:00Z - 1 ms
    assert registry.plugin("binance").lifecycle.state(CLOSED_MS) == "live"


def test_a_paper_run_with_a_bitmex_leg_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings: Settings = load_config(HISTORY_CONFIG)
    dialled: list[object] = []

    def no_dial(*args: object, **kwargs: object) -> None:
        dialled.append(args)
        raise AssertionError("a closed venue was dialled")

    monkeypatch.setattr(socket, "create_connection", no_dial)
    monkeypatch.setattr(socket.socket, "connect", no_dial)
    with pytest.raises(registry.VenueClosedError) as err:
        build_paper_session(settings, mode="paper")
    assert str(err.value) == (
        "BitMEX closed for good on 2026-09-23 04:00 UTC: --paper cannot trade it; "
        "its history still plays with --replay FILE"
    )
    assert err.value.exit_code == 2
    assert dialled == []


def test_live_with_a_bitmex_leg_exits_2_before_asking_anything() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(HISTORY_CONFIG), "--live"],
        capture_output=True, text=True, input="", cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "Type yes" not in out.stdout + out.stderr
    assert out.stderr.strip() == (
        "arbtui: BitMEX closed for good on 2026-09-23 04:00 UTC: --live cannot trade it; "
        "its history still plays with --replay FILE"
    )
