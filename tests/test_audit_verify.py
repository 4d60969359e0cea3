"""`arbtui audit verify`: a replay's log is accepted; an edited, deleted, reordered, forged or
cut row is detected and named (on a real log left by a headless replay of March 2020)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.domain.config import load_config
from core.observe.audit.chain import GENESIS, AuditRow, content_hash, row_hash, verify_rows
from core.observe.audit.store import iter_rows, open_readonly
from tests.conftest import HISTORY_CONFIG
from tests.observers import replay_into, tamper_copy
from tui.cli import main


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return replay_into(
        load_config(HISTORY_CONFIG),
        tmp_path_factory.mktemp("replay"),
    )


def verify(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--db", str(db)])
    return code, capsys.readouterr().out


def test_a_headless_replay_leaves_a_log_that_verify_accepts(
    replayed: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, report = replayed
    code, out = verify(db, capsys)
    assert code == 0, out
    # 47 intents + 47 fills + 37 funding payments + run_start + run_end
    assert report["trade_count"] == 47 and len(report["funding_payments"]) == 37
    assert "OK: 133 rows (seq 1..133), 1 run," in out
    assert "no run_end" not in out


def test_the_rows_are_what_the_report_says_the_desk_did(
    replayed: tuple[Path, dict[str, Any]],
) -> None:
    db, report = replayed
    conn = open_readonly(db)
    rows = list(iter_rows(conn))
    conn.close()
    fills = [json.loads(r.payload) for r in rows if r.kind == "fill"]
    assert [(f["client_order_id"], f["qty"], f["price"]) for f in fills] == [
        (t["client_order_id"], t["qty"], t["price"]) for t in report["trades"]
    ]
    intents = [r for r in rows if r.kind == "order_intent"]
    fill_rows = [r for r in rows if r.kind == "fill"]
    for intent, fill in zip(intents, fill_rows, strict=True):  # each intent before its fill
        assert intent.client_order_id == fill.client_order_id and intent.seq < fill.seq
    funding = [json.loads(r.payload) for r in rows if r.kind == "funding"]
    assert [(f["venue"], f["settlement_ts_ms"], f["rate"], f["mark_price"], f["position"],
             f["currency"]) for f in funding] == [
        (p["venue"], p["settlement_ts_ms"], p["rate"], p["mark_price"], p["position"],
         p["currency"]) for p in report["funding_payments"]
    ]  # fmt: skip
    first, last = rows[0], rows[-1]
    assert (first.kind, last.kind) == ("run_start", "run_end")
    assert json.loads(first.payload)["mode"] == "replay"
    assert json.loads(last.payload)["rows"] == 133
    assert all(r.run_id == first.run_id for r in rows)
    assert first.run_id.startswith("replay-btc_2020-03.jsonl.gz-")
    assert fills[0]["ts_ms"] == rows[2].ts_ms == 1584021659999  # engine (event) time
    assert rows[2].written_ts_ms > 1_700_000_000_000  # wall time of writing


def test_editing_one_row_makes_verify_fail_and_name_it(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tamper_copy(
        replayed[0],
        tmp_path / "edited.db",
        'UPDATE audit SET payload = replace(payload, \'"qty":"0.420"\', \'"qty":"0.042"\') '
        "WHERE seq = 5",
    )
    code, out = verify(db, capsys)
    assert code == 1
    assert "FAILED: row seq 5 was edited: its content does not match its hash" in out
    assert "rows seq 1..4 verified" in out


def test_deleting_one_row_makes_verify_fail_and_name_it(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tamper_copy(replayed[0], tmp_path / "deleted.db", "DELETE FROM audit WHERE seq = 100")
    code, out = verify(db, capsys)
    assert code == 1
    assert "row seq 100 is missing (deleted): the next row present is seq 101" in out


def test_deleting_a_row_and_renumbering_the_rest_is_still_named(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tamper_copy(
        replayed[0],
        tmp_path / "renumbered.db",
        "DELETE FROM audit WHERE seq = 100",
        "UPDATE audit SET seq = -seq WHERE seq > 100",
        "UPDATE audit SET seq = -seq - 1 WHERE seq < 0",
    )
    code, out = verify(db, capsys)
    assert code == 1
    assert "row seq 100 does not follow row seq 99: the row written before it was removed" in out


def test_reordering_two_rows_makes_verify_fail_and_name_them(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tamper_copy(
        replayed[0],
        tmp_path / "reordered.db",
        "UPDATE audit SET seq = -1 WHERE seq = 100",
        "UPDATE audit SET seq = 100 WHERE seq = 101",
        "UPDATE audit SET seq = 101 WHERE seq = -1",
    )
    code, out = verify(db, capsys)
    assert code == 1
    assert (
        "row seq 100 is out of order: it was written right after the row now at seq 101 "
        "(rows reordered)" in out
    )


def test_a_row_edited_and_rehashed_breaks_the_link_of_the_next_row(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = open_readonly(replayed[0])
    row = next(r for r in iter_rows(conn) if r.seq >= 50 and r.kind == "fill")
    conn.close()
    payload = row.payload.replace('"price":"', '"price":"1')  # ten times the price, or more
    forged = row_hash(
        row.prev_hash, row.run_id, row.ts_ms, row.written_ts_ms, row.kind, row.venue,
        row.symbol, row.client_order_id, payload,
    )  # fmt: skip
    db = tamper_copy(
        replayed[0],
        tmp_path / "forged.db",
        f"UPDATE audit SET payload = '{payload}', hash = '{forged}' WHERE seq = {row.seq}",
    )
    code, out = verify(db, capsys)
    assert code == 1
    assert f"row seq {row.seq + 1} does not follow row seq {row.seq}" in out


def test_rows_cut_from_the_end_leave_a_run_without_its_end_row(
    replayed: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tamper_copy(replayed[0], tmp_path / "cut.db", "DELETE FROM audit WHERE seq > 100")
    code, out = verify(db, capsys)
    assert code == 0  # a chain cut at the end is whole; only the head hash tells
    assert "OK: 100 rows" in out
    assert "has no run_end row" in out


def test_verify_of_a_missing_database_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.db")]) == 2
    assert f"{tmp_path / 'none.db'}: no audit database there" in capsys.readouterr().err


def test_a_row_hash_covers_every_field_but_seq() -> None:
    row = AuditRow(7, "run", 1, 2, "fill", "binance", "BTCUSDT", "cid", "{}", GENESIS, "")
    base = content_hash(row)
    for field, value in (
        ("run_id", "run2"),
        ("ts_ms", None),
        ("written_ts_ms", 3),
        ("kind", "funding"),
        ("venue", "bitmex"),
        ("symbol", "XBTUSD"),
        ("client_order_id", "cid2"),
        ("payload", "{ }"),
        ("prev_hash", "1" * 64),
    ):
        changed = AuditRow(**{**{f: getattr(row, f) for f in row.__slots__}, field: value})
        assert content_hash(changed) != base, field
    # netstring fields: moving a character from one field to the next changes the hash
    a = AuditRow(1, "ab", 1, 2, "c", "", "", "", "{}", GENESIS, "")
    b = AuditRow(1, "a", 1, 2, "bc", "", "", "", "{}", GENESIS, "")
    assert content_hash(a) != content_hash(b)
    assert verify_rows([]).ok and verify_rows([]).rows == 0
