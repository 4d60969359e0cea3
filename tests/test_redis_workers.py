"""Intents through Redis to executors and updates back, against the fake exchanges and the
real Redis on 127.0.0.1:6379; two ``arbtui worker`` processes, one SIGKILLed mid-order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from core.domain.config import Settings
from core.domain.venue import OrderStatus
from core.execution.redis_queue import decode_envelope, make_client
from core.runtime.execution import build_execution
from tests.conftest import ROOT
from tests.fake_venues import (
    ENV,
    KEYS,
    FakeBinance,
    FakeBybit,
    Fault,
    aeventually,
    default_settings,
    intent,
    live_settings,
)
from tests.redis_fixtures import REDIS, limiters, router_and_worker
from tui.cli import main as cli_main

S = OrderStatus


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def settings() -> Settings:
    """The shipped config: Binance BTCUSDT, Bybit BTCUSDT (linear) and BTCUSD (inverse)."""
    return default_settings()


async def test_intents_go_through_redis_to_a_worker_and_updates_come_back(settings, prefix) -> None:
    fb = await FakeBinance(*KEYS["binance"]).start()
    fm = await FakeBybit(*KEYS["bybit"]).start()
    s = live_settings(settings, fb, fm, redis_url=REDIS, prefix=prefix, block_s=0.2)
    updates, lat = [], []
    try:
        async with router_and_worker(s, "eng1", updates.append) as (router, _, _):
            router.on_latency = lat.append
            router.submit(intent("r-bin-1"))
            router.submit(intent("r-byl-1", "bybit", "BTCUSDT", "sell", "0.2"))
            router.submit(intent("r-byi-1", "bybit", "BTCUSD", "sell", "10000"))
            done = lambda: {u.client_order_id for u in updates if u.status is S.FILLED}  # noqa: E731
            await aeventually(lambda: done() == {"r-bin-1", "r-byl-1", "r-byi-1"})
            fills = [u.fill for u in updates if u.fill is not None]
            assert sorted((f.client_order_id, f.qty) for f in fills) == [
                ("r-bin-1", msgspec.convert("0.2", type=type(fills[0].qty))),
                ("r-byi-1", msgspec.convert("10000", type=type(fills[0].qty))),
                ("r-byl-1", msgspec.convert("0.2", type=type(fills[0].qty))),
            ]
            await aeventually(lambda: len(lat) == 3)  # the worker's own reports carry it
            assert all(0 <= x < 0.5 for x in lat)
            stats = await router.stats()
            assert (stats.depth, stats.inflight) == (0, 0)
            assert len(fb.placed()) == 1 and len(fm.placed()) == 2
    finally:
        await fb.stop()
        await fm.stop()


def write_config(path: Path, fb: FakeBinance, fm: FakeBybit, prefix: str) -> None:
    """The repository's config with [queue] and [venues] pointed at Redis and the fakes."""
    values = {
        "queue": {
            "redis_url": f'"{REDIS}"',
            "key_prefix": f'"{prefix}"',
            "block_timeout_s": "0.3",
            "socket_timeout_s": "2.0",
            "lease_s": "1.0",
        },
        "venues": {
            "request_timeout_ms": "5000",
            "unknown_grace_ms": "300",
            "resolve_budget_s": "10.0",
        },
        "venues.binance": {"rest_url": f'"{fb.url}"', "ws_url": f'"{fb.ws}/ws"'},
        "venues.bybit": {"rest_url": f'"{fm.url}"', "ws_url": f'"{fm.ws}/v5/private"'},
    }
    out, section = [], ""
    for line in (ROOT / "config.toml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.split("]")[0].strip("[ ")
        key = stripped.split("=")[0].strip()
        if section in values and "=" in stripped and key in values[section]:
            line = f"{key} = {values[section][key]}"
        out.append(line)
    path.write_text("\n".join(out) + "\n")


async def test_two_workers_one_killed_between_move_and_ack_execute_each_intent_once(
    settings, prefix, tmp_path
) -> None:
    fb = await FakeBinance(*KEYS["binance"]).start()
    fm = await FakeBybit(*KEYS["bybit"]).start()
    cfg = tmp_path / "config.toml"
    write_config(cfg, fb, fm, prefix)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "worker", "--config", str(cfg), "--id", f"w{i}"],
            cwd=ROOT,
            env={**os.environ, **ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in (1, 2)
    ]
    s = live_settings(settings, fb, fm, redis_url=REDIS, prefix=prefix, block_s=0.3)
    router, _ = build_execution(s, engine_id="eng2", limiters=limiters())
    updates = []
    router.listener = updates.append
    r = make_client(REDIS, 2.0)
    task = None
    try:
        await router.start()
        task = asyncio.create_task(router.run())
        registered: list[int] = [0]

        async def both_workers_up() -> None:
            while registered[0] < 2:
                registered[0] = await r.hlen(f"{prefix}:workers")
                await asyncio.sleep(0.05)

        await asyncio.wait_for(both_workers_up(), 20.0)
        # the first order the exchange receives is accepted, but its answer is held
        fb.inject("POST /fapi/v1/order", Fault(respond_after_s=30.0))
        cids = [f"k-{i:02d}" for i in range(12)]
        for i, cid in enumerate(cids):
            if i % 4 == 1:  # both Bybit legs: linear BTCUSDT and inverse BTCUSD
                router.submit(intent(cid, "bybit", "BTCUSDT", "sell", "0.001"))
            elif i % 4 == 3:
                router.submit(intent(cid, "bybit", "BTCUSD", "sell", "100"))
            else:
                router.submit(intent(cid, qty="0.001"))
        await aeventually(lambda: len(fb.requests("POST", "/fapi/v1/order")) >= 1, 5.0)
        held = fb.orders[0].cid
        victim = None
        for w in ("w1", "w2"):
            items = await r.lrange(f"{prefix}:processing:{w}", 0, -1)
            if any(decode_envelope(x).intent.client_order_id == held for x in items):
                victim = w
        assert victim is not None  # moved, executed at the venue, not acknowledged
        proc = procs[int(victim[1]) - 1]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        filled = lambda: {u.client_order_id for u in updates if u.status is S.FILLED}  # noqa: E731
        await aeventually(lambda: filled() == set(cids), 15.0)
        left = [1]

        async def queue_drained() -> None:  # the survivor re-queued, looked up, acknowledged
            while left[0]:
                left[0] = (
                    await r.llen(f"{prefix}:pending")
                    + await r.llen(f"{prefix}:processing:w1")
                    + await r.llen(f"{prefix}:processing:w2")
                )
                await asyncio.sleep(0.05)

        await asyncio.wait_for(queue_drained(), 15.0)
        for cid in cids:  # every intent executed exactly once at the exchange
            assert len(fb.placed(cid)) + len(fm.placed(cid)) == 1, cid
        assert len([u for u in updates if u.client_order_id == held and u.fill]) == 1
        assert len(fb.requests("GET", "/fapi/v1/order")) >= 1  # the held one was looked up
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)
            if p.poll() is None:
                p.kill()
        await router.close()
        if task is not None:
            await asyncio.wait({task}, timeout=3)
        await r.aclose()
        await fb.stop()
        await fm.stop()


def test_arbtui_worker_without_redis_url_exits_2_naming_the_key(capsys) -> None:
    assert cli_main(["worker", "--config", str(ROOT / "config.toml")]) == 2
    assert "queue.redis_url is empty" in capsys.readouterr().err


def test_arbtui_worker_without_api_keys_exits_2_naming_the_variable(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("ARBTUI_BINANCE_SECRET")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        (ROOT / "config.toml").read_text().replace('redis_url = ""', f'redis_url = "{REDIS}"')
    )
    assert cli_main(["worker", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "binance: set ARBTUI_BINANCE_SECRET in the environment" in err
    assert KEYS["binance"][0] not in err
