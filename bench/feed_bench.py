"""Feed benchmark: real recorded Binance and Bybit frames streamed from a local server (its own
process, 127.0.0.1) at a rising rate into the venues' feeds and the engine in this process.

Binance: the polyoxide ``markPrice@1s`` and ``bookTicker`` frames on ``/market`` and
``/public``. Bybit (v5, ``/v5/public/linear`` and ``/v5/public/inverse``): after the subscribe
ack, the real tardis-node ``tickers`` snapshot of each symbol (2023-04-05), then deltas:
inverse BTCUSD repeats the real delta; linear BTCUSDT (whose capture has no delta) gets deltas
with the real delta's field set and the BTCUSDT snapshot's values. Every delta's ``cs`` and
``ts`` rise, so the feed's ordering rule applies each one (a merge and a quote per frame).
With both venues the default pair (Binance BTCUSDT / Bybit BTCUSDT) opens during the warm-up.

Prints, per step, the rate offered, the rate the feed and engine sustained (messages handled
per second, and whether they kept up), and the in-process tick-to-decision latency: from the
moment a frame is handed to the feed by the socket to the return of ``engine.on_event`` for
its events (decode, stamp, order, the engine's market update, risk and strategy checks; the
pair is open, so every price tick runs the ladder and hedge checks). Targets (issue 3):
>= 20,000 messages/s sustained, p99 tick-to-decision <= 0.5 ms.

    .venv/bin/python bench/feed_bench.py [--steps 5000,10000,20000,40000,80000] [--seconds 2]
        [--venues binance,bybit]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data" / "feeds"
BYBIT = ROOT / "tests" / "data" / "bybit"
SYMBOLS = {"BTCUSDT": "linear", "BTCUSD": "inverse"}
"""Bybit symbols streamed (symbol -> kind)."""


def _frames() -> dict[str, bytes]:
    out = {}
    for name in ("binance_ws_btcusdt_markPrice_1s.json", "binance_ws_btcusdt_bookTicker.json"):
        obj = json.loads((DATA / name).read_text())
        out[obj["stream"]] = json.dumps(obj, separators=(",", ":")).encode()
    return out


def _bybit() -> dict[str, tuple[bytes, dict[str, object]]]:
    """topic -> (real snapshot frame, delta template) from the tardis-node capture."""
    lines = [json.loads(x) for x in (BYBIT / "ws_tardis_node_v5_2023-04-05.jsonl").open()]
    snaps = {o["topic"]: o for o in lines if o["type"] == "snapshot"}
    delta = next(o for o in lines if o["topic"] == "tickers.BTCUSD" and o["type"] == "delta")
    out = {}
    for symbol in SYMBOLS:
        topic = f"tickers.{symbol}"
        snap = snaps[topic]
        d = {k: snap["data"][k] for k in delta["data"]}  # the real delta's fields, own values
        out[topic] = (
            json.dumps(snap, separators=(",", ":")).encode(),
            {**delta, "topic": topic, "data": d, "cs": snap["cs"] + 1, "ts": snap["ts"] + 100}
            if symbol != "BTCUSD"
            else delta,
        )
    return out


async def _bybit_handler(ws, rate, sent, nsock) -> None:  # type: ignore[no-untyped-def]
    """One Bybit connection: ack the subscribe, send each topic's snapshot, then deltas with
    rising ``cs``/``ts`` (pre-split around the two numbers: one join per frame)."""
    frames = _bybit()
    req = json.loads(await ws.recv())
    await ws.send(json.dumps({"success": True, "ret_msg": "", "conn_id": "bench",
                              "req_id": req.get("req_id", ""), "op": "subscribe"}))  # fmt: skip
    parts = []
    for topic in req["args"]:
        snap, delta = frames[topic]
        await ws.send(snap)
        d = dict(delta)
        d["cs"], d["ts"] = 0, 0
        head, _, tail = json.dumps(d, separators=(",", ":")).rpartition('"cs":0,"ts":0')
        parts.append((head + '"cs":', ',"ts":', tail, int(delta["cs"]), int(delta["ts"])))

    def frame(i: int) -> bytes:
        head, mid, tail, cs, ts = parts[i % len(parts)]
        return f"{head}{cs + i + 1}{mid}{ts + (i + 1) // 10}{tail}".encode()

    await _paced(ws, frame, rate, sent, nsock)


async def _paced(ws, frame, rate, sent, nsock) -> None:  # type: ignore[no-untyped-def]
    """Send ``frame(0)``, ``frame(1)``, ... on ``ws`` at ``rate.value / nsock.value`` a second,
    in batches every millisecond, counting them in ``sent``."""
    proto = ws.protocol
    due = 0.0
    last = time.perf_counter()
    i = 0
    while True:
        now = time.perf_counter()
        due += (now - last) * rate.value / nsock.value
        last = now
        n = int(due)
        if n:
            due -= n
            for _ in range(n):
                proto.send_text(frame(i))
                i += 1
            ws.send_data()
            with sent.get_lock():
                sent.value += n
        await asyncio.sleep(0.001)


def serve(port_q: mp.Queue, rate: mp.Value, sent: mp.Value, nsock: mp.Value) -> None:  # type: ignore[type-arg]
    """Server process: each connection gets its streams' frames at ``rate.value`` /
    ``nsock.value`` a second (the rate is shared by every socket), in batches every
    millisecond."""
    from urllib.parse import parse_qs, urlsplit

    from websockets.asyncio.server import serve as ws_serve

    frames = _frames()

    async def handler(ws):  # type: ignore[no-untyped-def]
        if ws.request.path.startswith("/v5/public/"):
            await _bybit_handler(ws, rate, sent, nsock)
            return
        q = parse_qs(urlsplit(ws.request.path).query)
        texts = [frames[s] for s in q["streams"][0].split("/") if s in frames]
        await _paced(ws, lambda i: texts[i % len(texts)], rate, sent, nsock)

    async def main() -> None:
        async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as srv:
            port_q.put(srv.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def engine_settings():  # type: ignore[no-untyped-def]
    import msgspec

    from core.domain.config import load_config

    s = load_config(ROOT / "config.toml")
    strat = msgspec.structs.replace(
        s.strategy, observe_every_s=1, observations=1, entry_edge_pct=-100.0, exit_apr_pct=0.0
    )
    risk = msgspec.structs.replace(s.risk, start_state="ARMED")
    return msgspec.structs.replace(s, strategy=strat, risk=risk)


async def client(  # type: ignore[no-untyped-def]
    port: int, rate, sent, nsock, steps: list[int], secs: float, venues: list[str]
) -> None:
    from core.domain.config import FeedSettings
    from core.domain.events import FundingRate, Quote
    from core.engine.engine import Engine
    from core.feeds.health import HealthBoard
    from core.feeds.sink import EventSink
    from core.feeds.together import run_together
    from core.venues.binance.feed import BinanceFeed
    from core.venues.bybit.feed import BybitFeed

    engine = Engine(engine_settings(), mode="paper")
    t = int(time.time() * 1000)
    if "bybit" not in venues:  # the other leg of the default pair, so that it can open
        engine.on_event(Quote(ts_ms=t, venue="bybit", symbol="BTCUSDT", mark=83000.0,
                              bid=82999.9, ask=83000.1))  # fmt: skip
        engine.on_event(
            FundingRate(ts_ms=t, venue="bybit", symbol="BTCUSDT", rate=Decimal("0.0001"),
                        settlement_ts_ms=t + 3_600_000, interval_ms=28_800_000, fixed=False)
        )  # fmt: skip
    if "binance" not in venues:
        engine.on_event(Quote(ts_ms=t, venue="binance", symbol="BTCUSDT", mark=28552.0,
                              index=28560.0, bid=28551.9, ask=28552.1))  # fmt: skip
        engine.on_event(
            FundingRate(ts_ms=t, venue="binance", symbol="BTCUSDT", rate=Decimal("0.00001"),
                        settlement_ts_ms=t + 3_600_000, interval_ms=28_800_000, fixed=False)
        )  # fmt: skip
    sink = EventSink(engine.on_event)
    board = HealthBoard()
    url = f"ws://127.0.0.1:{port}"
    cfg = FeedSettings(binance_ws_url=url, bybit_ws_url=url, stale_after_s=5.0)
    sockets = []
    runs = []
    if "binance" in venues:
        bn = BinanceFeed(["BTCUSDT"], sink, board, cfg, interval_ms=lambda s: 28_800_000)
        sockets += [bn.market, bn.public]
        runs.append(bn.run)
    if "bybit" in venues:
        bb = BybitFeed(SYMBOLS, sink, board, cfg, interval_ms=lambda s: 28_800_000)
        sockets += list(bb.sockets.values())
        runs.append(bb.run)
    nsock.value = len(sockets)
    lat: list[int] = []
    handled = [0]
    perf = time.perf_counter_ns

    def timing(inner):  # type: ignore[no-untyped-def]
        def timed(frame: bytes, now: float) -> None:
            t0 = perf()
            inner(frame, now)
            lat.append(perf() - t0)
            handled[0] += 1

        return timed

    for sock in sockets:
        sock.on_message = timing(sock.on_message)
    task = asyncio.ensure_future(run_together(*(r() for r in runs)))
    rate.value = 2000
    while handled[0] < 2000:
        await asyncio.sleep(0.05)
    gc.collect()
    gc.freeze()
    print(
        f"pair status after warm-up: {engine.pairs[0].status}; trades {len(engine.ledger.trades)}"
    )
    print(f"{'offered/s':>10} {'handled/s':>10} {'kept up':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")  # fmt: skip
    results = []
    for step in steps:
        rate.value = step
        await asyncio.sleep(0.3)  # settle at the new rate
        lat.clear()
        h0, s0, t0 = handled[0], sent.value, time.perf_counter()
        await asyncio.sleep(secs)
        dt = time.perf_counter() - t0
        h, s = handled[0] - h0, sent.value - s0
        backlog = sent.value - handled[0]
        kept = h >= 0.97 * s and backlog < step * 0.1
        ls = sorted(lat)
        p50 = ls[len(ls) // 2] / 1e6 if ls else float("nan")
        p99 = ls[int(len(ls) * 0.99)] / 1e6 if ls else float("nan")
        mx = ls[-1] / 1e6 if ls else float("nan")
        results.append((step, h / dt, kept, p50, p99))
        print(f"{s / dt:>10.0f} {h / dt:>10.0f} {'yes' if kept else 'NO':>8} {p50:>8.4f} "
              f"{p99:>8.4f} {mx:>8.3f}")  # fmt: skip
    rate.value = 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sustained = max((r[1] for r in results if r[2]), default=0.0)
    p99s = [r[4] for r in results if r[2]]
    print(f"\nsustained: {sustained:,.0f} messages/s (target >= 20,000)")
    if p99s:
        print(f"p99 tick-to-decision at sustained rates: max {max(p99s):.4f} ms, "
              f"median {statistics.median(p99s):.4f} ms (target <= 0.5 ms)")  # fmt: skip
    for v in venues:
        st = board.venue(v)
        print(f"{v}: frames {st.messages:,}; parse errors {st.parse_errors}; "
              f"dropped {st.dropped}; venue errors {st.venue_errors}")  # fmt: skip
    print(f"engine events {engine.events:,}; trades {len(engine.ledger.trades)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="5000,10000,20000,40000,60000,80000")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--venues", default="binance,bybit", help="binance, bybit or both")
    args = ap.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    venues = [v for v in args.venues.split(",") if v]
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    rate = ctx.Value("d", 0.0)
    sent = ctx.Value("q", 0)
    nsock = ctx.Value("i", 2)
    proc = ctx.Process(target=serve, args=(port_q, rate, sent, nsock), daemon=True)
    proc.start()
    try:
        port = port_q.get(timeout=20)
        sys.setswitchinterval(0.0005)
        asyncio.run(client(port, rate, sent, nsock, steps, args.seconds, venues))
    finally:
        proc.terminate()
        proc.join(2)


if __name__ == "__main__":
    main()
