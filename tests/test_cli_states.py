"""The command line's honest answers (issue 13, item 5): plain ``arbtui`` lists the modes, an
unknown command lists the valid ones, ``audit verify`` without a live log points to the
others, ``--live`` without API keys refuses before connecting, and a headless paper run that
never reached its venues exits non-zero saying why."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import msgspec
import pytest

from core.domain.config import load_config
from core.runtime.paper_session import build_paper_session
from core.runtime.status import run_headless
from core.venues.ccxt_base import KEY_ENV
from tests.conftest import ROOT
from tests.fake_exchange.exchanges import FAST
from tui.cli import SUBCOMMANDS, main

CONFIG = str(ROOT / "config.toml")


def test_plain_arbtui_lists_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    for mode in ("arbtui --replay FILE", "arbtui --paper", "arbtui --live"):
        assert mode in err
    assert "or a command: import, backtest, optimize, audit, worker" in err
    assert "not built yet" not in err


def test_an_unknown_command_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err
    assert all(f"'{c.name}'" in err for c in SUBCOMMANDS)


def test_audit_verify_without_a_live_log_points_to_the_other_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    assert main(["audit", "verify", "--config", CONFIG]) == 2
    err = capsys.readouterr().err
    assert "audit-live.db: no live audit log there yet" in err
    assert "give --mode replay|paper" in err and "--db PATH" in err


def test_live_without_api_keys_refuses_before_connecting_naming_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, secret in KEY_ENV.values():
        monkeypatch.delenv(key, raising=False)
        monkeypatch.delenv(secret, raising=False)
    monkeypatch.setenv("ARBTUI_BYBIT_KEY", "set")  # one of four given: the other three named
    t0 = time.monotonic()
    assert main(["--live", "--yes", "--headless", "--config", CONFIG]) == 2
    assert time.monotonic() - t0 < 5  # nothing dialled, nothing asked
    err = capsys.readouterr().err
    assert (
        "--live needs ARBTUI_BINANCE_KEY, ARBTUI_BINANCE_SECRET, ARBTUI_BYBIT_SECRET in the "
        "environment" in err
    )
    assert "nothing was started" in err


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_headless_paper_run_that_never_connected_exits_1_saying_why() -> None:
    url = f"127.0.0.1:{closed_port()}"
    base = load_config(CONFIG)
    feeds = msgspec.structs.replace(
        base.feeds,
        binance_ws_url=f"ws://{url}",
        binance_rest_url=f"http://{url}",
        bybit_ws_url=f"ws://{url}",
        bybit_rest_url=f"http://{url}",
        **{k: v for k, v in FAST.items() if hasattr(base.feeds, k)},
    )
    session = build_paper_session(msgspec.structs.replace(base, feeds=feeds))
    out: list[str] = []
    err: list[str] = []
    code = run_headless(session, every_s=0.5, duration_s=2.0, out=out.append, err=err.append)
    assert code == 1
    assert len(err) == 1
    line = err[0]
    assert line.startswith("arbtui: never connected: binance (attempt ")
    assert "; bybit (attempt " in line and "last error" in line
    assert any("waiting-for-data" in o for o in out)  # no 1970 clock
    assert any("equity 200,000 USD" in o for o in out)  # the configured capital, not 0
