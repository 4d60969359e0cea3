"""`arbtui audit export`: CSV and JSON lines round-trip every field, filters select by engine
time, kind and run, the output streams, and a session export reports progress."""

from __future__ import annotations

import io
import json
import stat
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.domain.config import load_config
from core.domain.orders import Fill
from core.domain.records import AlertRaised
from core.observe.audit.chain import verify_rows
from core.observe.audit.export import export_rows, read_export, write_rows
from core.observe.audit.recorder import make_encoder
from core.observe.audit.store import iter_rows, open_readonly
from core.observe.audit.writer import AuditWriter
from core.runtime.host import EngineHost
from tests.conftest import HISTORY_CONFIG, SHIPPED_REPLAY, eventually
from tests.helpers import ts
from tests.observers import observed, replay_into
from tui.cli import main


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return replay_into(
        load_config(HISTORY_CONFIG),
        tmp_path_factory.mktemp("replay"),
    )


def stored(db: Path) -> list:  # type: ignore[type-arg]
    conn = open_readonly(db)
    try:
        return list(iter_rows(conn))
    finally:
        conn.close()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_round_trips_every_field_and_still_verifies(
    fmt: str, replayed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db = replayed[0]
    out = tmp_path / f"audit.{fmt}"
    assert main(["audit", "export", "--db", str(db), "--format", fmt, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    back = list(read_export(out, fmt))
    assert back == stored(db)
    assert back[0].ts_ms is None  # run_start: the engine had no time yet; kept as absent
    assert verify_rows(back).ok


def test_a_csv_export_is_readable_by_a_person(replayed: tuple[Path, dict[str, Any]]) -> None:
    buf = io.StringIO()
    conn = open_readonly(replayed[0])
    write_rows(iter_rows(conn), buf, "csv", lambda: None)
    conn.close()
    lines = buf.getvalue().splitlines()
    assert lines[0] == (
        "seq,run_id,ts_ms,ts_utc,written_ts_ms,written_utc,kind,venue,symbol,client_order_id,"
        "payload,prev_hash,hash"
    )
    first_fill = next(line for line in lines if ",fill," in line)
    assert ",1584021659999,2020-03-12T14:00:59.999Z," in first_fill


def test_kind_since_and_until_select_rows_by_engine_time(
    replayed: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, report = replayed
    args = ["audit", "export", "--db", str(db), "--kind", "funding"]
    assert main([*args, "--since", "2020-03-13T04:00", "--until", "2020-03-14"]) == 0
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    want = [
        p
        for p in report["funding_payments"]
        if ts("2020-03-13T04:00") <= p["settlement_ts_ms"] < ts("2020-03-14T00:00")
    ]
    assert len(got) == len(want) == 5
    assert [g["ts_ms"] for g in got] == [p["settlement_ts_ms"] for p in want]
    assert got[0]["ts_utc"] == "2020-03-13T04:00:00.000Z"  # since is inclusive
    assert json.loads(got[0]["payload"])["rate"] == "-0.00375"  # BitMEX at its cap
    assert main([*args, "--kind", "fill", "--until", "2020-03-12T15:01"]) == 0
    kinds = [json.loads(line)["kind"] for line in capsys.readouterr().out.splitlines()]
    assert kinds == ["fill", "fill"]  # the first entry, both legs; until is exclusive


def test_a_bad_date_is_bad_input_naming_the_option(
    replayed: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "export", "--db", str(replayed[0]), "--since", "2020-13-01"])
    assert code == 2
    assert "--since: '2020-13-01' is not a valid date-time" in capsys.readouterr().err


def test_the_console_can_export_its_own_session_with_progress(tmp_path: Path) -> None:
    settings = observed(load_config(HISTORY_CONFIG), tmp_path)
    replay_into(load_config(HISTORY_CONFIG), tmp_path)  # an earlier run in the same file
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, pause_at_ts_ms=ts("2020-03-14T00:00"))
    host.start()
    try:
        eventually(lambda: host.snapshot().replay.paused, timeout_s=20)  # type: ignore[union-attr]
        audit = host.observers.audit
        assert audit is not None
        calls: list[tuple[int, int]] = []
        out = tmp_path / "session.csv"
        n = audit.export_session(out, "csv", progress=lambda d, t: calls.append((d, t)))
        fills = len(host.engine.ledger.trades)
    finally:
        host.stop()
    rows = list(read_export(out, "csv"))
    assert len(rows) == n and calls[-1] == (n, n)
    assert {r.run_id for r in rows} == {audit.run_id}  # this session only
    assert sum(r.kind == "fill" for r in rows) == fills > 0


def test_progress_is_reported_every_so_many_rows(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    calls: list[tuple[int, int]] = []
    n = export_rows(
        replayed[0], tmp_path / "x.jsonl", "jsonl", progress=lambda d, t: calls.append((d, t)),
        progress_every=100,
    )  # fmt: skip
    assert n == 133
    assert calls == [(100, 133), (133, 133)]


def test_an_export_streams_rather_than_loading_the_log(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    w = AuditWriter(db, make_encoder("big"), batch_rows=5000)
    w.start()
    for i in range(20_000):
        w.submit(
            Fill(f"f-{i:08d}", "BTC", "binance", "BTCUSDT", "buy", Decimal("0.413"),
                 Decimal("5123.4"), Decimal("0.00105"), "USDT", False, "hedge", i)
        )  # fmt: skip
    w.close(timeout_s=30)  # 20,000 rows: on a loaded machine the last commits take seconds
    size = sum(len(r.payload) + 200 for r in stored(db))  # the table's text, ~7 MB in memory
    tracemalloc.start()
    n = export_rows(db, tmp_path / "big.jsonl", "jsonl")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 20_000
    assert peak < size / 4  # one chunk of rows at a time (loading the table would be > size)


def test_what_is_said_before_the_first_event_has_no_time_not_1970() -> None:
    encode = make_encoder("run-1")
    before = encode(AlertRaised(0, "metrics not served on 127.0.0.1:9464"), 1_764_000_000_000)
    after = encode(AlertRaised(1_584_021_659_999, "drawdown"), 1_764_000_000_000)
    assert before[1] is None and after[1] == 1_584_021_659_999
