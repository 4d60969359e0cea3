"""The file log: one JSON object a line, UTC times, owner-only rotating files, and no API key,
secret or signature in it (realistic ccxt and exchange strings)."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from core.domain.config import Settings
from core.domain.timeutil import ms_to_iso
from core.observe.filelog import FileLog
from core.observe.redaction import env_secrets, redact
from core.runtime.headless import run_replay
from tests.conftest import SHIPPED_REPLAY
from tests.observers import observed

BINANCE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BINANCE_SIG = "3c4fa6a6ba1bd9c3a5b7e1d2c0f9e8d7c6b5a4938271605f4e3d2c1b0a998877"
BITMEX_KEY = "LAqUlngMIQkIUjXMUreyu3qn"
BITMEX_SIG = "9f1b0d5e1d7c6a2b4c8e0f3a5b7d9e1f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2f"
ORDER_URL = (
    "https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.413"
    "&newClientOrderId=arb-BTC-bin-en-0000002&timestamp=1584025259999&recvWindow=5000"
)

CASES = [
    (  # ccxt verbose request log (exchange.verbose = True)
        f"fetch Request: binance POST {ORDER_URL}&signature={BINANCE_SIG} RequestHeaders: "
        f"{{'X-MBX-APIKEY': '{BINANCE_KEY}', 'Content-Type': 'application/x-www-form-urlencoded'}}"
        " RequestBody: None",
        f"fetch Request: binance POST {ORDER_URL}&signature=[REDACTED] RequestHeaders: "
        "{'X-MBX-APIKEY': '[REDACTED]', 'Content-Type': 'application/x-www-form-urlencoded'}"
        " RequestBody: None",
    ),
    (  # BitMEX signed request headers (api-expires is not a secret)
        f"{{'api-expires': '1584025319', 'api-key': '{BITMEX_KEY}', "
        f"'api-signature': '{BITMEX_SIG}', 'Content-Type': 'application/json'}}",
        "{'api-expires': '1584025319', 'api-key': '[REDACTED]', "
        "'api-signature': '[REDACTED]', 'Content-Type': 'application/json'}",
    ),
    (  # ccxt constructor options as JSON
        f'{{"apiKey": "{BINANCE_KEY}", "secret": "NhqPtmdSJYdKjVHjA7PZj4Mge3", '
        '"enableRateLimit": true, "options": {"defaultType": "future"}}',
        '{"apiKey": "[REDACTED]", "secret": "[REDACTED]", "enableRateLimit": true, '
        '"options": {"defaultType": "future"}}',
    ),
    (  # a raw header line and a bearer token
        f"X-MBX-APIKEY: {BINANCE_KEY}\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
        "X-MBX-APIKEY: [REDACTED]\nAuthorization: Bearer [REDACTED]",
    ),
    (  # a user-data stream listen key in a JSON answer
        '{"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}',
        '{"listenKey": "[REDACTED]"}',
    ),
    (  # nothing secret: left alone
        "binance BTCUSDT fill 0.413 @ 5123.4, signal 3 of 3 observations, key level 2",
        "binance BTCUSDT fill 0.413 @ 5123.4, signal 3 of 3 observations, key level 2",
    ),
]


@pytest.mark.parametrize(("raw", "clean"), CASES)
def test_redaction_removes_keys_secrets_and_signatures(raw: str, clean: str) -> None:
    assert redact(raw, secrets=[]) == clean


def test_a_credential_from_the_environment_is_removed_wherever_it_appears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    monkeypatch.setenv("ARBTUI_BINANCE_API_SECRET", secret)
    monkeypatch.setenv("SOME_PATH", "/home/ops/keys")  # not secret-shaped: kept
    try:
        env_secrets(refresh=True)
        text = f"hmac over {secret[:-1]}x and {secret} in /home/ops/keys"
        assert redact(text) == f"hmac over {secret[:-1]}x and [REDACTED] in /home/ops/keys"
    finally:
        monkeypatch.delenv("ARBTUI_BINANCE_API_SECRET")
        env_secrets(refresh=True)


def read_lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_log_line_is_one_json_object_with_a_utc_time_and_no_secret(tmp_path: Path) -> None:
    log = FileLog.acquire(tmp_path, 1_000_000, 3)
    lg = logging.getLogger("arbtui.execution")
    url = f"{ORDER_URL}&signature={BINANCE_SIG}"
    try:
        try:
            raise RuntimeError(f"binance POST {url} 401 {{'X-MBX-APIKEY': '{BINANCE_KEY}'}}")
        except RuntimeError:
            lg.exception(
                "order failed: %s", url,
                extra={"request": {"headers": {"X-MBX-APIKEY": BINANCE_KEY}, "url": url}},
            )  # fmt: skip
        lg.warning("retrying after %d ms", 500)
    finally:
        log.release()
    text = (tmp_path / "arbtui.jsonl").read_text(encoding="utf-8")
    assert BINANCE_KEY not in text and BINANCE_SIG not in text
    first, second = read_lines(tmp_path / "arbtui.jsonl")
    assert first["level"] == "ERROR" and first["logger"] == "arbtui.execution"
    assert first["msg"] == f"order failed: {ORDER_URL}&signature=[REDACTED]"
    assert first["request"] == {
        "headers": {"X-MBX-APIKEY": "[REDACTED]"},
        "url": f"{ORDER_URL}&signature=[REDACTED]",
    }
    assert first["exc"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: binance POST" in first["exc"] and "[REDACTED]" in first["exc"]
    assert second["msg"] == "retrying after 500 ms"
    for line in (first, second):
        assert line["ts"].endswith("Z") and line["ts"] == ms_to_iso(line["ts_ms"])
    assert stat.S_IMODE((tmp_path / "arbtui.jsonl").stat().st_mode) == 0o600


def test_log_files_are_owner_only_and_rotate_at_their_size(tmp_path: Path) -> None:
    log = FileLog.acquire(tmp_path, 2048, 2)
    try:
        for i in range(60):
            logging.getLogger("arbtui.feeds").warning("binance markPrice stale for %d s", i)
    finally:
        log.release()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["arbtui.jsonl", "arbtui.jsonl.1", "arbtui.jsonl.2"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert 0 < f.stat().st_size <= 2048
        assert all(line["level"] == "WARNING" for line in read_lines(f))
    assert read_lines(files[0])[-1]["msg"] == "binance markPrice stale for 59 s"


def test_runs_sharing_a_directory_share_one_file_until_the_last_leaves(tmp_path: Path) -> None:
    a = FileLog.acquire(tmp_path, 1_000_000, 2)
    b = FileLog.acquire(tmp_path, 1_000_000, 2)
    assert a is b
    a.release()
    logging.getLogger("arbtui.test").warning("still open")
    b.release()
    logging.getLogger("arbtui.test").warning("after the last release")
    assert [line["msg"] for line in read_lines(tmp_path / "arbtui.jsonl")] == ["still open"]


def test_a_replay_logs_its_trade_events_and_not_the_market_samples(
    settings: Settings, tmp_path: Path
) -> None:
    report = run_replay(observed(settings, tmp_path), SHIPPED_REPLAY)
    lines = read_lines(tmp_path / "logs" / "arbtui-replay.jsonl")
    events = [line["event"] for line in lines]
    assert events.count("fill") == events.count("order_intent") == report["trade_count"] == 47
    assert events.count("funding") == len(report["funding_payments"]) == 37
    assert "market" not in events
    assert len({line["run_id"] for line in lines}) == 1
    fill = next(line for line in lines if line["event"] == "fill")
    assert fill["data"]["ts_ms"] == report["trades"][0]["ts_ms"]  # engine (event) time
    assert fill["data"]["price"] == report["trades"][0]["price"]  # Decimal as its string
    assert fill["ts"] > "2024"  # the line's own time is the wall clock
