"""The audit writer and the engine's audit recorder: write-ahead of every order, one chain
whatever the writers, owner-only files, nothing dropped, a clean and quick close."""

from __future__ import annotations

import gzip
import json
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from core.analysis.replay import ReplayError, iter_replay
from core.domain import commands as cmd
from core.domain.config import ConfigError, Settings
from core.domain.orders import Fill, OrderIntent, Rejection
from core.domain.records import Record
from core.domain.venue import OrderStatus, OrderUpdate
from core.engine.engine import Engine
from core.observe.audit.chain import verify_rows
from core.observe.audit.recorder import AuditRecorder, make_encoder
from core.observe.audit.store import iter_rows, open_readonly
from core.observe.audit.writer import AuditWriteError, AuditWriter
from core.runtime.headless import run_replay
from core.runtime.host import EngineHost
from core.runtime.wiring import attach_observers
from tests.conftest import SHIPPED_REPLAY, eventually
from tests.observers import observed
from tui.cli import main


def fill(i: int) -> Fill:
    return Fill(
        f"arb-BTC-bin-he-{i:07d}", "BTC", "binance", "BTCUSDT", "buy", Decimal("0.413"),
        Decimal("5123.40"), Decimal("0.00105"), "USDT", False, "hedge", 1_584_025_259_999 + i,
    )  # fmt: skip


def rows_of(db: Path) -> list:  # type: ignore[type-arg]
    conn = open_readonly(db)
    try:
        return list(iter_rows(conn))
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_its_wal_and_its_directory_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new" / "audit.db"
    w = AuditWriter(db, make_encoder("run"))
    w.start()
    try:
        w.submit(fill(1))
        w.flush()
        assert mode(db.parent) == 0o700
        assert mode(db) == 0o600
        assert mode(db.with_name("audit.db-wal")) == 0o600
        assert mode(db.with_name("audit.db-shm")) == 0o600
    finally:
        w.close()
    loose = tmp_path / "loose.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    w = AuditWriter(loose, make_encoder("run"))
    w.start()
    w.close()
    assert mode(loose) == 0o600  # an existing file is narrowed


class IntentChecker:
    """A recorder placed after the audit recorder: when the engine is about to send, it
    looks in the database through its own read-only connection for the intent's row."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.checked: list[str] = []
        self.missing: list[str] = []

    def before_send(self, intent: OrderIntent) -> None:
        conn = sqlite3.connect(f"{self.db.resolve().as_uri()}?mode=ro", uri=True)
        found = conn.execute(
            "SELECT count(*) FROM audit WHERE kind = 'order_intent' AND client_order_id = ?",
            (intent.client_order_id,),
        ).fetchone()[0]
        conn.close()
        (self.checked if found == 1 else self.missing).append(intent.client_order_id)

    def record(self, rec: Record) -> None:
        pass


def test_in_paper_mode_every_intent_is_committed_before_its_order_is_sent(
    settings: Settings, tmp_path: Path
) -> None:
    eng = Engine(observed(settings, tmp_path), mode="paper")
    closers = attach_observers(eng, run_id="paper").closers
    checker = IntentChecker(tmp_path / "audit.db")
    eng.recorders.append(checker)
    try:
        eng.handle(cmd.Arm(source="alice@pts/3 (ssh 10.0.0.5)"))
        for ev in iter_replay(SHIPPED_REPLAY)[1]:
            eng.on_event(ev)
            if len(checker.checked) >= 8:
                break
    finally:
        for close in closers:
            close()
    assert checker.missing == []
    # entry x2, ladder + hedge x2, a drift hedge, then a ladder add whose hedge goes with it
    assert len(checker.checked) == 9
    rows = rows_of(tmp_path / "audit.db")
    assert verify_rows(rows).ok
    command = next(r for r in rows if r.kind == "command")
    assert json.loads(command.payload) == {
        "ts_ms": 0,
        "name": "Arm",
        "source": "alice@pts/3 (ssh 10.0.0.5)",
    }
    state = json.loads(next(r for r in rows if r.kind == "state").payload)
    assert (state["old"], state["new"], state["reason"]) == ("DISARMED", "ARMED", "operator arm")
    start = json.loads(rows[0].payload)
    assert start["mode"] == "paper" and start["write_ahead"] == "blocking"
    assert {"user", "host", "tty", "ssh_client", "pid", "config", "version"} <= set(start)


def test_an_order_whose_intent_cannot_be_written_is_not_sent(
    settings: Settings, tmp_path: Path
) -> None:
    eng = Engine(observed(settings, tmp_path), mode="paper")
    obs = attach_observers(eng, run_id="paper")
    closers, audit = obs.closers, obs.audit
    assert audit is not None and audit.blocking
    events = iter_replay(SHIPPED_REPLAY)[1]
    for _ in range(50):  # marks for both legs
        eng.on_event(next(events))
    eng.handle(cmd.Arm(source="test"))
    audit.writer.close()  # the writer is gone (disk lost, thread dead, ...)
    up = eng.send("BTC", ("binance", "BTCUSDT"), "buy", Decimal("0.010"), False, "entry")
    assert up.status is OrderStatus.REJECTED
    assert up.reason.startswith("audit write-ahead failed:")
    assert "the audit writer is not running" in up.reason
    assert eng.ledger.position("binance", "BTCUSDT").qty == 0
    assert eng.venue.orders_seen == set()
    assert any(e.kind == "alert" and "not sent" in e.text for e in eng.log)
    for close in closers[:-1]:
        close()
    try:  # the run_end row cannot be written either: closing says so
        closers[-1]()
        raise AssertionError("closing a dead audit log must fail loudly")
    except AuditWriteError as exc:
        assert "rows not written" in str(exc)


def test_a_replay_batches_its_intents_unless_told_to_write_them_ahead(
    settings: Settings, tmp_path: Path
) -> None:
    replay = Engine(observed(settings, tmp_path), mode="replay")
    strict = Engine(observed(settings, tmp_path, write_ahead_in_replay=True), mode="replay")
    for eng, blocking in ((replay, False), (strict, True)):
        obs = attach_observers(eng, run_id="r")
        closers, audit = obs.closers, obs.audit
        assert audit is not None and audit.blocking is blocking
        for close in closers:
            close()
    assert verify_rows(rows_of(tmp_path / "audit.db")).runs == 2


def test_exceptions_are_recorded_with_their_traceback_and_without_secrets(
    settings: Settings, tmp_path: Path
) -> None:
    eng = Engine(observed(settings, tmp_path), mode="paper")
    closers = attach_observers(eng, run_id="err").closers
    tb = (
        "Traceback (most recent call last):\n"
        '  File "core/execution/binance.py", line 88, in place\n'
        "ccxt.base.errors.AuthenticationError: binance POST https://fapi.binance.com/fapi/v1/"
        "order?symbol=BTCUSDT&timestamp=1584025259999&signature=9f8e7d6c5b4a39281706f5e4d3c2b1a0"
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0 {'X-MBX-APIKEY': 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvs'}\n"
    )
    eng.error("order failed: AuthenticationError", tb)
    for close in closers:
        close()
    row = next(r for r in rows_of(tmp_path / "audit.db") if r.kind == "error")
    payload = json.loads(row.payload)
    assert payload["text"] == "order failed: AuthenticationError"
    assert payload["traceback"].startswith("Traceback (most recent call last):")
    assert "symbol=BTCUSDT&timestamp=1584025259999&signature=[REDACTED]" in payload["traceback"]
    assert "'X-MBX-APIKEY': '[REDACTED]'" in payload["traceback"]
    assert "9f8e7d6c" not in row.payload and "vmPUZE6" not in row.payload


def test_two_writers_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    writers = [AuditWriter(db, make_encoder(f"run{i}"), batch_ms=5) for i in range(2)]
    for w in writers:
        w.start()

    def feed(w: AuditWriter, base: int) -> None:
        for i in range(600):
            w.submit(fill(base + i))
            if i % 50 == 49:
                w.flush()

    threads = [threading.Thread(target=feed, args=(w, i * 10_000)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    rows = rows_of(db)
    assert len(rows) == 1200
    assert {r.run_id for r in rows} == {"run0", "run1"}
    res = verify_rows(rows)
    assert res.ok, res.problem


def test_a_failed_commit_keeps_its_rows_and_a_later_commit_writes_them(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    w = AuditWriter(db, make_encoder("run"), busy_timeout_s=0.05)
    w.start()
    w.submit(fill(0))
    w.flush()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    for i in range(1, 4):
        w.submit(fill(i))
    try:
        w.flush(timeout_s=2)
        raise AssertionError("the flush should have failed while the file is locked")
    except AuditWriteError as exc:
        assert "commit failed" in str(exc) and "locked" in str(exc)
    intent = OrderIntent("arb-BTC-bin-en-0000009", "BTC", "binance", "BTCUSDT", "buy",
                         Decimal("0.010"), False, "entry", 1)  # fmt: skip
    try:
        w.submit_durable(intent, timeout_s=2)
        raise AssertionError("a write-ahead must fail while nothing can be committed")
    except AuditWriteError:
        pass
    blocker.execute("ROLLBACK")
    blocker.close()
    w.flush(timeout_s=2)
    w.close()
    rows = rows_of(db)
    assert [r.client_order_id for r in rows] == [
        *(f"arb-BTC-bin-he-{i:07d}" for i in range(4)),
        "arb-BTC-bin-en-0000009",
    ]
    assert verify_rows(rows).ok


@dataclass(frozen=True)
class Strange:
    ts_ms: int
    tags: set[str]


def test_a_record_that_cannot_be_encoded_is_written_as_an_audit_error_row(
    tmp_path: Path,
) -> None:
    w = AuditWriter(tmp_path / "odd.db", make_encoder("run"), run_id="run")
    w.start()
    w.submit(Strange(5, {"x"}))
    w.close()
    (row,) = rows_of(tmp_path / "odd.db")
    assert row.kind == "audit_error" and row.run_id == "run"
    assert "Strange not encodable" in json.loads(row.payload)["error"]


def test_quitting_a_console_host_mid_replay_flushes_and_closes_within_2_s(
    settings: Settings, tmp_path: Path
) -> None:
    host = EngineHost.for_replay(observed(settings, tmp_path), SHIPPED_REPLAY, speed=None)
    host.start()
    eventually(lambda: host.snapshot().exposure_open, timeout_s=20)
    host.submit(cmd.Kill(source="bob@pts/1 (ssh 192.0.2.7)"))
    eventually(lambda: host.snapshot().risk.trading_state == "HALTED", timeout_s=2)
    fills = len(host.engine.ledger.trades)
    t0 = time.perf_counter()
    host.stop(timeout_s=2.0)
    took = time.perf_counter() - t0
    assert not host.running and took < 2.0
    rows = rows_of(tmp_path / "audit.db")
    res = verify_rows(rows)
    assert res.ok and res.open_runs == ()
    assert sum(r.kind == "fill" for r in rows) == fills
    assert rows[-1].kind == "run_end"
    kill = next(r for r in rows if r.kind == "command")
    assert json.loads(kill.payload)["source"] == "bob@pts/1 (ssh 192.0.2.7)"
    states = [json.loads(r.payload) for r in rows if r.kind == "state"]
    assert states[-1]["new"] == "HALTED" and states[-1]["reason"] == "kill switch"
    closes = [json.loads(r.payload) for r in rows if r.kind == "fill"][-2:]
    assert all(f["reduce_only"] and f["purpose"] == "kill" for f in closes)


def test_an_unwritable_audit_path_is_a_config_error_naming_the_key(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("not a directory")
    eng = Engine(observed(settings, tmp_path, path=str(tmp_path / "file" / "audit.db")))
    try:
        attach_observers(eng, run_id="x")
        raise AssertionError("expected a ConfigError")
    except ConfigError as exc:
        assert str(exc).startswith(f"audit.path: {tmp_path / 'file' / 'audit.db'}: cannot")
    assert eng.recorders == []


def test_a_burst_of_records_is_written_whole_and_counted_by_run_end(tmp_path: Path) -> None:
    rec = AuditRecorder(
        tmp_path / "fast.db", "run", Settings().audit, blocking=False, clock=lambda: 7
    )
    rec.start({"mode": "test"})
    for i in range(5000):
        rec.record(fill(i))
    rec.close()
    rows = rows_of(tmp_path / "fast.db")
    assert len(rows) == 5002 and json.loads(rows[-1].payload) == {"rows": 5002}
    assert rows[0].ts_ms == 7 and rows[-1].ts_ms == 7


def test_an_engine_that_dies_records_its_traceback_before_the_log_closes(
    settings: Settings, tmp_path: Path
) -> None:
    def events():  # type: ignore[no-untyped-def]
        real = iter_replay(SHIPPED_REPLAY)[1]
        for _ in range(200):
            yield next(real)
        raise ReplayError("btc_2020-03.jsonl: line 202: mark_price: expected a number")

    eng = Engine(observed(settings, tmp_path))
    host = EngineHost(eng, events(), speed=None, run_id="dies")
    host.start()
    eventually(lambda: host.error is not None, timeout_s=10)
    host.stop()
    rows = rows_of(tmp_path / "audit.db")
    error = json.loads(next(r for r in rows if r.kind == "error").payload)
    assert error["text"] == (
        "replay stopped: ReplayError: btc_2020-03.jsonl: line 202: mark_price: expected a number"
    )
    assert host.failed == (
        "replay failed: btc_2020-03.jsonl: line 202: mark_price: expected a number"
    )
    assert host.exit_code == 2
    assert "Traceback (most recent call last):" in error["traceback"]
    assert "raise ReplayError(" in error["traceback"]
    assert rows[-1].kind == "run_end" and verify_rows(rows).ok


def test_a_headless_replay_that_fails_records_why_before_the_log_closes(
    settings: Settings, tmp_path: Path
) -> None:
    with gzip.open(SHIPPED_REPLAY, "rt", encoding="utf-8") as fh:
        head = [next(fh) for _ in range(300)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(head) + '{"type": "bar", "ts_ms": \n', encoding="utf-8")
    with pytest.raises(ReplayError) as err:
        run_replay(observed(settings, tmp_path), bad)
    rows = rows_of(tmp_path / "audit.db")
    error = json.loads(next(r for r in rows if r.kind == "error").payload)
    assert error["text"] == f"replay stopped: ReplayError: {err.value}"
    assert error["text"].endswith("bad.jsonl:301: Input data was truncated")
    assert "Traceback (most recent call last):" in error["traceback"]
    assert rows[-1].kind == "run_end" and verify_rows(rows).ok


def test_each_mode_has_its_own_log_under_the_state_directory(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for run_mode in ("replay", "paper"):
        eng = Engine(settings, mode=run_mode)
        for close in attach_observers(eng, run_id=run_mode).closers:
            close()
    state = tmp_path / "state"
    assert sorted(p.name for p in state.glob("audit-*.db")) == [
        "audit-paper.db",
        "audit-replay.db",
    ]
    logs = state / "logs"
    assert [p.name for p in logs.iterdir()] == ["arbtui-paper.jsonl"]  # replays: none
    assert mode(state) == mode(logs) == 0o700
    assert mode(logs / "arbtui-paper.jsonl") == mode(state / "audit-paper.db") == 0o600
    assert main(["audit", "verify", "--mode", "replay"]) == 0
    assert "audit-replay.db: OK: 2 rows (seq 1..2), 1 run," in capsys.readouterr().out
    assert main(["audit", "verify"]) == 2  # the desk's own (live) log: none yet
    assert (
        f"{state / 'audit-live.db'}: no live audit log there yet; a paper session or a replay "
        "keeps its own: give --mode replay|paper (found: --mode paper or --mode replay)"
    ) in capsys.readouterr().err


def test_venue_texts_in_rejections_and_updates_are_kept_without_their_secrets(
    tmp_path: Path,
) -> None:
    rec = AuditRecorder(tmp_path / "venue.db", "run", Settings().audit, blocking=False)
    rec.start({"mode": "test"})
    timeout = (
        "RequestTimeout: binance POST https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT"
        "&newClientOrderId=arb-BTC-bin-en-0000002&timestamp=1584025259999"
        "&signature=3c4fa6a6ba1bd9c3a5b7e1d2c0f9e8d7c6b5a4938271605f4e3d2c1b0a998877"
    )
    rec.record(Rejection("arb-BTC-bin-en-0000002", "binance", "BTCUSDT", timeout, 5))
    raw = '{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}'
    rec.record(  # type: ignore[arg-type]
        OrderUpdate("c1", "binance", "BTCUSDT", OrderStatus.NEW, Decimal(0), 6, raw=raw)
    )
    rec.close()
    rows = rows_of(tmp_path / "venue.db")
    rejection = json.loads(rows[1].payload)
    assert rows[1].kind == "rejection"
    assert rejection["reason"].endswith("&timestamp=1584025259999&signature=[REDACTED]")
    update = json.loads(rows[2].payload)
    assert rows[2].kind == "order_update" and rows[2].client_order_id == "c1"
    assert update["raw"] == '{"listenKey":"[REDACTED]"}' and update["status"] == "new"
