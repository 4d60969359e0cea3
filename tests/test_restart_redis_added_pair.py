"""A live restart with the Redis queue (issue 14): the pair the last run added at run time is
restored with its recorded specs, its position adopted, and a kill's reduce-only closes on
its legs go through an ``arbtui worker`` process whose own config lacks the added instrument
(Binance ETHUSDT): the spec rides in the intent's envelope, so the close goes out in the
venue's lot. On the fake venues (their REST wire formats) and the real Redis at
127.0.0.1:6379."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.domain import commands as cmd
from core.domain.config import load_config
from core.execution.redis_queue import make_client
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_venues import ENV, ROOT, live_settings
from tests.redis_fixtures import REDIS
from tests.test_redis_workers import write_config
from tests.test_restore_added_pairs import first_run, venues  # noqa: F401 (the fixture)

D = Decimal


def start_worker(cfg: Path, wid: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "worker", "--config", str(cfg), "--id", wid],
        cwd=ROOT,
        env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
    return proc.stderr.read().decode(errors="replace") if proc.stderr else ""


def test_a_restored_pair_is_killed_through_a_worker_whose_config_lacks_its_instrument(
    venues: Any,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
    prefix: str,
) -> None:
    st, feeds, fb, fy = venues
    base = load_config(ROOT / "configs" / "binance_bybit_inverse.toml")
    plain = live_settings(feeds.settings(base), fb, fy, timeout_ms=2000, grace_ms=500)
    st.call(first_run(plain, fb, fy), timeout_s=30)  # adds ETHX, opens it, ends
    assert (fb.positions["ETHUSDT"], fy.positions["BTCUSDT"]) == (D("-3.334"), D("3.334"))

    cfg = tmp_path / "worker.toml"
    write_config(cfg, fb, fy, prefix)  # the shipped config: no Binance ETHUSDT in it
    worker_cfg = load_config(cfg)
    assert ("binance", "ETHUSDT") not in {
        (s.venue, s.symbol) for s in worker_cfg.instruments.values()
    }
    worker = start_worker(cfg, "w-restart")
    r = make_client(REDIS, 2.0)
    try:
        registered = lambda: st.call(r.hlen(f"{prefix}:workers")) >= 1  # noqa: E731
        eventually(registered, 20)
        queued = live_settings(
            feeds.settings(base), fb, fy, timeout_ms=2000, grace_ms=500,
            redis_url=REDIS, prefix=prefix, block_s=0.2,
        )  # fmt: skip
        session = build_paper_session(queued, mode="live")  # the restart, with the queue
        host, eng = session.host, session.engine
        assert eng.run_time_pairs == {"ETHX"}
        host.start()
        try:
            ready = lambda: any(  # noqa: E731
                "live execution ready" in e.text for e in host.snapshot().log
            )
            eventually(ready, 20)
            row = next(p for p in host.snapshot().pairs if p.name == "ETHX")
            assert (row.armed, row.status) == (False, "open")  # adopted as the last run left it
            assert eng.ledger.position("binance", "ETHUSDT").qty == D("-3.334")
            before = len(fb.requests("POST", "/fapi/v1/order"))
            host.submit(cmd.Kill(source="test"))
            flat = lambda: (fb.positions["ETHUSDT"], fy.positions["BTCUSDT"]) == (0, 0)  # noqa: E731
            eventually(flat, 20)
            eventually(lambda: eng.ledger.position("binance", "ETHUSDT").qty == 0, 10)
            eventually(lambda: eng.ledger.position("bybit", "BTCUSDT").qty == 0, 10)
            snap = host.snapshot()
        finally:
            host.stop()
    finally:
        err = stop(worker)
        st.call(r.aclose())
    sent = [q.body for q in fb.requests("POST", "/fapi/v1/order")[before:]]
    (close,) = [b for b in sent if "symbol=ETHUSDT" in b]
    # Binance's lot for ETHUSDT (stepSize 0.001) on the wire, reduce-only, a buy of the short
    assert "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=3.334&reduceOnly=true&" in close
    (by,) = [o for o in fy.placed() if o.symbol == "BTCUSDT" and o.side == "Sell"]
    assert by.qty == D("3.334")
    assert snap.risk.trading_state == "HALTED"
    assert not [e.text for e in snap.log if e.kind == "alert" and "rejected" in e.text]
    # only the worker executes with the queue; its own config would refuse ETHUSDT ("no
    # instrument ETHUSDT configured"): it traded it with the spec from the envelope
    assert "Traceback" not in err, err
