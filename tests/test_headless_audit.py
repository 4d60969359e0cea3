"""A headless replay whose audit log cannot be written (issue 11, item 10): the report is
printed, then one line names the audit file and the error, and the exit code is 1."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from core.domain.config import Settings
from core.runtime.headless import AuditLogFailed, headless_replay, run_replay
from tests.conftest import SHIPPED_REPLAY
from tests.diskfull import FULL, disk_full
from tests.observers import observed
from tui.cli import main

LINE = re.compile(r"^arbtui: audit log not written: (\S+): (\d+) rows not written \((.+)\)$")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_replay_on_a_full_audit_disk_prints_its_report_then_one_line_and_exits_1(
    settings: Settings, tmp_path: Path, fmt: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with disk_full():
        code = headless_replay(observed(settings, tmp_path), SHIPPED_REPLAY, fmt, out, err)
    assert code == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    m = LINE.match(lines[0])
    assert m is not None, lines[0]
    assert m.group(1) == str(tmp_path / "audit.db") and m.group(3) == FULL
    assert int(m.group(2)) > 0
    text = out.getvalue()
    if fmt == "json":
        report = json.loads(text)
        assert report["events"] > 0
    else:
        assert "Traceback" not in text and text.strip()


def test_run_replay_keeps_the_report_when_the_audit_log_fails(
    settings: Settings, tmp_path: Path
) -> None:
    with disk_full(), pytest.raises(AuditLogFailed) as failed:
        run_replay(observed(settings, tmp_path), SHIPPED_REPLAY)
    assert failed.value.exit_code == 1
    assert str(tmp_path / "audit.db") in str(failed.value) and FULL in str(failed.value)
    assert failed.value.report["events"] > 0


def test_the_command_line_prints_the_report_then_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    cfg = Path(__file__).resolve().parent.parent / "configs" / "binance_bitmex_2020.toml"
    with disk_full():
        code = main(["--config", str(cfg), "--replay", str(SHIPPED_REPLAY), "--headless"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.strip() and len(err.splitlines()) == 1 and FULL in err


def test_a_replay_no_configured_pair_can_trade_exits_2_naming_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the March 2020 file (Binance BTCUSDT, BitMEX XBTUSD) with the default config (Binance
    # vs Bybit BTCUSDT) played to the end and reported nothing, exit 0
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path))
    cfg = Path(__file__).resolve().parent.parent / "config.toml"
    code = main(["--config", str(cfg), "--replay", str(SHIPPED_REPLAY), "--headless"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (
        "arbtui: no configured pair can trade this replay (pair BTC needs bybit BTCUSDT; it "
        "holds binance BTCUSDT, bitmex XBTUSD): run it with the config it was built for "
        "(--config FILE; replays/README.md names each shipped file's)\n"
    )
