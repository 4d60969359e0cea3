"""Prometheus metrics: scraped over HTTP during a console-host replay of March 2020 and parsed
with prometheus-client's own parser; the values are the engine's and the report's."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.analysis.report import build_report
from core.domain import commands as cmd
from core.domain.config import ConfigError, Settings, load_config
from core.engine.engine import Engine
from core.feeds.health import HealthBoard
from core.observe.metrics import Metrics
from core.runtime.feed_health import report_metrics
from core.runtime.host import EngineHost
from core.runtime.wiring import attach_observers
from tests.conftest import HISTORY_CONFIG, ROOT, SHIPPED_REPLAY, eventually
from tests.helpers import ts
from tests.observers import free_port, observed
from tui.cli import main

README_REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"

EVERY = {
    "arbtui_funding_rate_per_hour": "gauge",
    "arbtui_funding_spread_per_hour": "gauge",
    "arbtui_price_spread_ratio": "gauge",
    "arbtui_position": "gauge",
    "arbtui_net_delta_btc": "gauge",
    "arbtui_equity_usd": "gauge",
    "arbtui_drawdown_ratio": "gauge",
    "arbtui_drawdown_limit_ratio": "gauge",
    "arbtui_trading_state": "gauge",
    "arbtui_feed_staleness_seconds": "gauge",
    "arbtui_order_queue_depth": "gauge",
    "arbtui_trades": "counter",
    "arbtui_funding_received_usd": "counter",
    "arbtui_funding_paid_usd": "counter",
    "arbtui_fees_usd": "counter",
    "arbtui_order_rejects": "counter",
    "arbtui_feed_reconnects": "counter",
    "arbtui_order_latency_seconds": "histogram",
}


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> tuple[dict[str, str], Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    types: dict[str, str] = {}
    samples: Samples = {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return types, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= lbl)


def one(samples: Samples, name: str, **labels: str) -> float:
    (value,) = [v for (n, lbl), v in samples.items() if n == name and lbl == set(labels.items())]
    return value


def close_to(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def test_every_metric_is_served_during_a_replay_with_the_engines_values(tmp_path: Path) -> None:
    port = free_port()
    settings = observed(load_config(HISTORY_CONFIG), tmp_path, port=port)
    host = EngineHost.for_replay(
        settings, SHIPPED_REPLAY, pause_at_ts_ms=ts("2020-03-13T02:00"), speed=None
    )
    host.start()
    try:
        eventually(lambda: host.snapshot().replay.paused, timeout_s=20)  # type: ignore[union-attr]
        eng = host.engine
        types, s = scrape(port)
        assert {k: types.get(k) for k in EVERY} == EVERY
        assert total(s, "arbtui_trades_total") == len(eng.ledger.trades) > 0
        for (venue, symbol), pos in eng.ledger.positions.items():
            unit = "BTC" if symbol == "BTCUSDT" else "contracts"
            got = one(s, "arbtui_position", venue=venue, symbol=symbol, unit=unit)
            assert got == float(pos.qty)
        assert one(s, "arbtui_position", venue="binance", symbol="BTCUSDT", unit="BTC") < 0
        assert one(s, "arbtui_equity_usd") == eng.equity_usd
        assert one(s, "arbtui_trading_state", state="ARMED") == 1.0
        assert total(s, "arbtui_trading_state") == 1.0
        snap_pair = host.snapshot().pairs[0]
        assert snap_pair.spread_per_hour is not None
        assert one(s, "arbtui_funding_spread_per_hour", pair="BTC") == pytest.approx(
            snap_pair.spread_per_hour
        )
        assert one(s, "arbtui_funding_rate_per_hour", venue="bitmex", symbol="XBTUSD") < 0
        assert one(s, "arbtui_drawdown_limit_ratio") == 0.10

        host.submit(cmd.ReplayTogglePause())  # on to the end of the file
        eventually(lambda: host.snapshot().replay.finished, timeout_s=20)  # type: ignore[union-attr]
        report = build_report(eng, 1.0)
        _, s = scrape(port)
    finally:
        host.stop()
    assert total(s, "arbtui_trades_total") == report["trade_count"] == 47
    assert total(s, "arbtui_trades_total", purpose="hedge") == 39
    for venue, v in report["per_venue"].items():
        assert close_to(total(s, "arbtui_funding_received_usd_total", venue=venue),
                        v["funding_received_usd"])  # fmt: skip
        assert close_to(total(s, "arbtui_funding_paid_usd_total", venue=venue),
                        -v["funding_paid_usd"])  # fmt: skip
        assert close_to(total(s, "arbtui_fees_usd_total", venue=venue), -v["fees_usd"])
    assert close_to(total(s, "arbtui_funding_received_usd_total"), 790.0261)
    assert total(s, "arbtui_order_rejects_total") == report["rejections"]
    assert one(s, "arbtui_equity_usd") == report["equity_end_usd"]
    assert one(s, "arbtui_drawdown_ratio") == pytest.approx(eng.dd.drawdown_pct / 100)
    assert one(s, "arbtui_net_delta_btc") == pytest.approx(eng.net_delta_btc_float(), abs=0.01)


def test_the_feed_and_execution_hooks_show_in_the_scrape(settings: Settings) -> None:
    eng = Engine(settings, mode="paper")
    m = Metrics(eng)
    port = m.serve("127.0.0.1", 0)
    try:
        m.set_feed_staleness("binance", 6.5)
        m.inc_reconnects("bitmex")
        m.inc_reconnects("bitmex")
        m.observe_order_latency("binance", 0.004)
        m.observe_order_latency("binance", 0.3)
        m.set_queue_depth(3)
        _, s = scrape(port)
    finally:
        m.close()
    assert one(s, "arbtui_feed_staleness_seconds", venue="binance") == 6.5
    assert one(s, "arbtui_feed_staleness_seconds", venue="bitmex") == 0.0
    assert one(s, "arbtui_feed_reconnects_total", venue="bitmex") == 2.0
    assert one(s, "arbtui_order_latency_seconds_count", venue="binance") == 2.0
    assert one(s, "arbtui_order_latency_seconds_bucket", venue="binance", le="0.005") == 1.0
    assert one(s, "arbtui_order_latency_seconds_sum", venue="binance") == pytest.approx(0.304)
    assert one(s, "arbtui_order_queue_depth") == 3.0
    assert one(s, "arbtui_trading_state", state="DISARMED") == 1.0  # paper starts watch-only


def test_the_endpoint_binds_loopback_and_port_0_turns_it_off(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    eng = Engine(observed(settings, tmp_path, port=port))
    obs = attach_observers(eng, run_id="bind")
    closers, m = obs.closers, obs.metrics
    assert m is not None and m._server is not None
    assert m._server.server_address[0] == "127.0.0.1"
    for close in closers:
        close()
    with socket.socket() as probe:  # closed: the port is free again at once
        probe.bind(("127.0.0.1", port))
    off = Engine(observed(settings, tmp_path, port=0))
    obs = attach_observers(off, run_id="off")
    closers, m = obs.closers, obs.metrics
    assert m is not None and m._server is None  # still recorded, not served
    for close in closers:
        close()


def test_a_taken_port_is_an_alert_not_a_failure(settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        eng = Engine(observed(settings, tmp_path, port=port))
        closers = attach_observers(eng, run_id="taken").closers
        for close in closers:
            close()
    alerts = [e.text for e in eng.log if e.kind == "alert"]
    assert alerts == [
        f"metrics port {port} in use on 127.0.0.1: metrics off for this run (another arbtui? "
        "set [metrics] port or --metrics-port to another port, 0 to turn them off)"
    ]


def test_a_second_run_on_a_taken_metrics_port_goes_on_with_metrics_off(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Two runs with the default port: the first serves /metrics, the second (here the
    README's headless replay through ``arbtui``) plays to its end and exits 0, its report
    saying the port was in use and metrics are off for it (at start, not at 1970-01-01)."""
    port = free_port()
    first = Engine(observed(settings, tmp_path, port=port))
    closers = attach_observers(first, run_id="first").closers
    try:
        monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "second"))
        readme = ["--config", str(ROOT / "config.toml"), "--replay", str(README_REPLAY)]
        code = main([*readme, "--headless", "--metrics-port", str(port)])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            assert r.status == 200  # the first run still serves
    finally:
        for close in closers:
            close()
    out = capsys.readouterr().out
    assert code == 0
    assert (
        f"alert             at start metrics port {port} in use on 127.0.0.1: metrics off for "
        "this run (another arbtui? set [metrics] port or --metrics-port to another port, 0 to "
        "turn them off)"
    ) in out
    assert "trades            12 (entry 6, exit 6)" in out  # the whole replay ran


def test_the_metrics_port_comes_from_the_flag_the_environment_or_the_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARBTUI_METRICS_PORT")
    assert load_config(HISTORY_CONFIG).metrics.port == 9464
    assert load_config(HISTORY_CONFIG).metrics.host == "127.0.0.1"
    monkeypatch.setenv("ARBTUI_METRICS_PORT", "19464")
    assert load_config(HISTORY_CONFIG).metrics.port == 19464
    monkeypatch.setenv("ARBTUI_METRICS_PORT", "http")
    with pytest.raises(ConfigError, match=r"\$ARBTUI_METRICS_PORT: 'http' is not a port"):
        load_config(HISTORY_CONFIG)
    monkeypatch.setenv("ARBTUI_METRICS_PORT", "0")
    code = main(["--replay", str(SHIPPED_REPLAY), "--headless", "--metrics-port", "70000"])
    assert code == 2
    assert "--metrics-port: 70000 is not a port (0 = off)" in capsys.readouterr().err


def test_metric_names_follow_the_prometheus_conventions(settings: Settings) -> None:
    m = Metrics(Engine(settings))
    fams = list(text_string_to_metric_families(generate_latest(m.registry).decode()))
    for fam in fams:
        assert fam.name.startswith("arbtui_")
        if fam.name.endswith("_created"):
            continue  # the client's creation-time series of each counter and histogram
        if fam.type == "counter":
            assert all(s.name in (f"{fam.name}_total", f"{fam.name}_created") for s in fam.samples)
        unit_ok = fam.name.endswith(("_usd", "_btc", "_ratio", "_seconds", "_per_hour"))
        assert unit_ok or fam.type == "counter" or fam.name in {
            "arbtui_position", "arbtui_trading_state", "arbtui_order_queue_depth",
        }, fam.name  # fmt: skip


def test_the_grafana_dashboard_charts_every_metric_and_only_real_ones(settings: Settings) -> None:
    dash = json.loads((ROOT / "docs" / "grafana" / "arbtui.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(total|bucket)$", "", m) for e in exprs for m in re.findall(r"arbtui_\w+", e)}
    text = generate_latest(Metrics(Engine(settings)).registry).decode()
    served = {f.name for f in text_string_to_metric_families(text)}
    assert used <= served
    assert set(EVERY) <= used


def test_feed_health_reaches_the_metrics_as_staleness_and_reconnects(settings: Settings) -> None:
    clock = [100.0]
    board = HealthBoard(monotonic=lambda: clock[0])
    st = board.stream("bitmex", "quote:XBTUSD", stale_after_s=5.0)
    board.stream("binance", "btcusdt@markPrice@1s", stale_after_s=5.0).last_msg = 106.5
    st.last_msg = 100.0
    board.venue("bitmex").reconnects = 2
    metrics = Metrics(Engine(settings))
    reported: dict[str, int] = {}
    clock[0] = 107.0
    report_metrics(board, metrics, reported, clock[0])
    board.venue("bitmex").reconnects = 3
    report_metrics(board, metrics, reported, clock[0])
    get = metrics.registry.get_sample_value
    assert get("arbtui_feed_staleness_seconds", {"venue": "bitmex"}) == 7.0
    assert get("arbtui_feed_staleness_seconds", {"venue": "binance"}) == 0.5
    assert get("arbtui_feed_reconnects_total", {"venue": "bitmex"}) == 3.0
