"""A SIGKILL during a burst of fills loses no row that the audit log acknowledged as written.

A child process writes bursts of fills through the real writer (batched rows, then a flush)
and order intents written ahead (submit_durable); after each acknowledgement it prints what
was acknowledged. The parent kills it with SIGKILL in the middle of the bursts and then checks
the database: every acknowledged row is there and the chain is whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.observe.audit.chain import verify_rows
from core.observe.audit.store import iter_rows, open_readonly
from tests.conftest import ROOT

CHILD = r"""
import sys
from decimal import Decimal
from pathlib import Path
from core.observe.audit.recorder import make_encoder
from core.observe.audit.writer import AuditWriter
from core.domain.orders import Fill, OrderIntent

w = AuditWriter(Path(sys.argv[1]), make_encoder("crash"), synchronous=sys.argv[2])
w.start()
i = 0
burst = 0
while True:
    first = i
    for _ in range(300):
        w.submit(Fill(f"f-{i:08d}", "BTC", "binance", "BTCUSDT", "buy", Decimal("0.413"),
                      Decimal("5123.4"), Decimal("0.00105"), "USDT", False, "hedge", i))
        i += 1
    w.submit_durable(OrderIntent(f"i-{burst:06d}", "BTC", "bitmex", "XBTUSD", "sell",
                                 Decimal(2500), False, "hedge", i), 5)
    print(f"ACK {first} {i - 1} i-{burst:06d}", flush=True)
    burst += 1
    for _ in range(200):  # more fills in flight, not yet acknowledged, when the kill lands
        w.submit(Fill(f"f-{i:08d}", "BTC", "binance", "BTCUSDT", "sell", Decimal("0.413"),
                      Decimal("5123.4"), Decimal("0.00105"), "USDT", False, "hedge", i))
        i += 1
    w.flush(5)
    print(f"ACK {i - 200} {i - 1} -", flush=True)
"""


def test_sigkill_during_a_burst_of_fills_loses_no_acknowledged_row(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), "FULL"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    acked_fills: set[str] = set()
    acked_intents: set[str] = set()
    assert child.stdout is not None
    try:
        for line in child.stdout:
            _, lo, hi, intent = line.split()
            acked_fills.update(f"f-{n:08d}" for n in range(int(lo), int(hi) + 1))
            if intent != "-":
                acked_intents.add(intent)
            if len(acked_intents) >= 12:
                child.send_signal(signal.SIGKILL)  # the writer is mid-burst
                break
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    conn = open_readonly(db)
    rows = list(iter_rows(conn))
    conn.close()
    written = {r.client_order_id for r in rows}
    assert acked_fills - written == set()
    assert acked_intents - written == set()
    assert len(acked_fills) >= 12 * 300
    res = verify_rows(rows)
    assert res.ok, res.problem
    assert res.open_runs == () and res.rows == len(rows)  # no run markers: raw writer
