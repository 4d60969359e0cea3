"""``arbtui backtest`` and ``arbtui optimize`` on the shipped replay, as a user runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.domain.config import load_config
from tests.conftest import HISTORY_CONFIG, ROOT, SHIPPED_REPLAY
from tui.cli import main


def arbtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )  # fmt: skip


def test_backtest_prints_the_statistics_and_writes_png_html_and_json(tmp_path: Path) -> None:
    out = arbtui("backtest", str(SHIPPED_REPLAY), "--config", str(HISTORY_CONFIG),
                 "--set", "strategy.entry_edge_pct=0.6", "--out", str(tmp_path))  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for label in ("return ", "sharpe / sortino", "max drawdown", "round trips       1 closed",
                  "win rate 100.0 %", "exposure", "  binance ", "  bitmex ", "equity  ",
                  "drawdown  "):  # fmt: skip
        assert label in text
    assert "total 445.59" in text
    png = (tmp_path / "btc_2020-03_equity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "btc_2020-03_equity.html").read_text()
    assert "<svg" in page and "2020-03-12 14:00:59" in page
    stats = json.loads((tmp_path / "btc_2020-03_stats.json").read_text())
    assert stats["total_pnl_usd"] == pytest.approx(445.59, abs=0.01)
    assert stats["round_trips"] == 1
    assert len(stats["curve"]) == 553


def test_a_bad_set_key_exits_2_naming_the_key() -> None:
    out = arbtui("backtest", str(SHIPPED_REPLAY), "--no-files", "--set", "strategy.entry=1")
    assert out.returncode == 2
    assert "strategy.entry: unknown config key" in out.stderr


def test_a_bad_set_value_exits_2_naming_the_key() -> None:
    out = arbtui("backtest", str(SHIPPED_REPLAY), "--no-files", "--set", "risk.max_leverage=x")
    assert out.returncode == 2
    assert "risk.max_leverage: Expected `float`, got `str`" in out.stderr


def test_optimize_ranks_by_the_objective_applies_the_constraint_and_writes_the_best(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["optimize", str(SHIPPED_REPLAY), "--config", str(HISTORY_CONFIG),
                 "--grid", "strategy.observations=1:3:1", "--objective", "total_pnl",
                 "--constraint", "round_trips>=3", "--workers", "1", "--out", str(tmp_path),
                 "--write-best", str(tmp_path / "best.toml")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    assert "3 of 3 grid points, 1 worker(s), objective total_pnl_usd (maximised)" in out.out
    assert "optimize [" in out.err  # the progress bar
    rows = list(csv.DictReader((tmp_path / "btc_2020-03_optimize.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    ok = [r for r in rows if r["ok"] == "True"]
    assert all(int(r["round_trips"]) >= 3 for r in ok)
    pnls = [float(r["total_pnl_usd"]) for r in ok]
    assert pnls == sorted(pnls, reverse=True)
    # observations=3 is the shipped config: one round trip, so it violates the constraint
    three = next(r for r in rows if r["strategy.observations"] == "3")
    assert three["ok"] == "False" and three["violated"] == "round_trips>=3"
    assert float(three["total_pnl_usd"]) == pytest.approx(445.59, abs=0.01)
    best = load_config(tmp_path / "best.toml")
    assert best.strategy.observations == int(ok[0]["strategy.observations"])


def test_optimize_in_worker_processes_gives_the_same_numbers_as_in_process(tmp_path: Path) -> None:
    out = arbtui("optimize", str(SHIPPED_REPLAY), "--config", str(HISTORY_CONFIG),
                 "--grid", "strategy.entry_edge_pct=0.4,0.8", "--workers", "2",
                 "--csv", str(tmp_path / "w2.csv"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "2 worker(s)" in out.stdout
    one = arbtui("optimize", str(SHIPPED_REPLAY), "--config", str(HISTORY_CONFIG),
                 "--grid", "strategy.entry_edge_pct=0.4,0.8", "--workers", "1",
                 "--csv", str(tmp_path / "w1.csv"))  # fmt: skip
    assert one.returncode == 0, one.stderr

    def numbers(p: Path) -> list[list[str]]:
        return [r[:-1] for r in csv.reader(p.open())]  # all but wall_s

    assert numbers(tmp_path / "w2.csv") == numbers(tmp_path / "w1.csv")


def test_a_bad_grid_exits_2_before_any_run() -> None:
    out = arbtui("optimize", str(SHIPPED_REPLAY), "--grid", "strategy.observations=1:2:0.5")
    assert out.returncode == 2
    assert "an integer key, 1.5 is not a whole number" in out.stderr


def test_an_unknown_objective_exits_2_listing_the_metrics() -> None:
    out = arbtui("optimize", str(SHIPPED_REPLAY), "--grid", "strategy.observations=1,2",
                 "--objective", "profit")  # fmt: skip
    assert out.returncode == 2
    assert "unknown metric 'profit'; choose from: total_pnl_usd" in out.stderr
