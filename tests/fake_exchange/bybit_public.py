"""Fake Bybit v5 public side on 127.0.0.1: the WebSocket ``/v5/public/linear`` and
``/v5/public/inverse`` and the REST market endpoints, answering with the real and documented
frames of ``tests/data/bybit`` (sources in ``tests/data/README.md``).

WebSocket (Bybit docs ``ws/connect``): ``{"op": "subscribe", "args": [...]}`` gets one ack
``{"success": true, "ret_msg": "", "conn_id": .., "req_id": .., "op": "subscribe"}``; a topic
this fake does not serve on that path gets ``"success": false`` with ``ret_msg`` "Invalid
topic: ..." (the nautilus refusal shape) and is not subscribed. ``{"op": "ping"}`` gets the
linear/inverse pong. Each subscribed topic then gets its recorded frames in order (snapshot
first, then the real deltas) one every ``interval_s``, and afterwards its last recorded frame
again as a keep-alive, restamped with ``cs`` + 1 and ``ts`` + 100 ms each time so the
sequence keeps rising on that connection (the real capture has only a few frames a topic).

REST: ``/v5/market/time`` (the docs body with the fake's clock), ``instruments-info`` (linear
BTCUSDT: the docs example; inverse BTCUSD: hand-made in the same schema; ``status=PreLaunch``
and other categories: empty), ``funding/history`` (real settled Bybit rates of 2024-03-01..04,
newest first, ``startTime`` alone refused with retCode 10001 as Bybit documents), ``tickers``
(the docs examples).

Knobs besides the common ones: ``topics`` (topic -> frame texts, editable), ``answer_pings``,
``big`` (a frame text sent right after every subscribe ack: an oversize partial),
``push(text)`` (send to every live connection), ``funding_rows`` (settled rows published so
far, oldest first), ``funding_extra`` (more funding/history rows, oldest first, served after
those and filtered by ``startTime``/``endTime`` as they are), ``set_ticker(topic, **fields)``
(fields of the topic's keep-alive frame replaced: a new price from the next tick on),
``interval_minutes`` (symbol -> ``fundingInterval`` override), ``status``
(symbol -> instruments-info ``status`` override),
``rest_fail`` (every REST answer a 503).
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from websockets.asyncio.server import ServerConnection

from tests.fake_exchange.ws_base import Conn, FakeWsServer

DATA = Path(__file__).resolve().parent.parent / "data" / "bybit"
LINEAR = {"BTCUSDT"}
INVERSE = {"BTCUSD"}


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@cache
def tardis() -> list[str]:
    """The real tardis-node v5 frames (2023-04-05), verbatim, in file order."""
    return (DATA / "ws_tardis_node_v5_2023-04-05.jsonl").read_text().splitlines()


def tardis_topic(topic: str) -> list[str]:
    """The real frames of ``topic``, verbatim (snapshot first)."""
    return [t for t in tardis() if json.loads(t)["topic"] == topic]


def docs_ticker(name: str) -> str:
    """A docs ticker example (``linear_perpetual`` / ``linear_futures``) as a compact frame."""
    return compact(load(f"ws_docs_ticker_{name}.json"))


@cache
def settled(kind: str) -> list[dict[str, str]]:
    """Real settled rates (AHA series, 2024-03-01..04) as funding/history rows, oldest first."""
    name = {
        "linear": ("rest_funding_linear_BTCUSDT_2024-03-01_04.csv", "BTCUSDT"),
        "inverse": ("rest_funding_inverse_BTCUSD_2024-03-01_04.csv", "BTCUSD"),
    }[kind]
    with (DATA / name[0]).open() as fh:
        return [
            {"symbol": name[1], "fundingRate": r["funding_rate"],
             "fundingRateTimestamp": r["funding_time"]}
            for r in csv.DictReader(fh)
        ]  # fmt: skip


def _restamp(text: str, cs: int, ts: int) -> str:
    obj = json.loads(text)
    if "cs" in obj:
        obj["cs"] = cs
    obj["ts"] = ts
    if isinstance(obj.get("data"), dict) and "u" in obj["data"]:
        obj["data"]["u"] = cs
    return compact(obj)


def _seq(text: str) -> tuple[int, int]:
    obj = json.loads(text)
    data = obj.get("data")
    u = data.get("u", 0) if isinstance(data, dict) else 0
    return int(obj.get("cs") or u or 0), int(obj.get("ts") or 0)


class FakeBybitPublic(FakeWsServer):
    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(interval_s)
        self.topics: dict[str, list[str]] = {
            "tickers.BTCUSD": tardis_topic("tickers.BTCUSD"),
            "tickers.BTCUSDT": tardis_topic("tickers.BTCUSDT"),
            "orderbook.1.BTCUSDT": tardis_topic("orderbook.1.BTCUSDT"),
        }
        self.answer_pings = True
        self.big: str | None = None
        self.ops: list[dict[str, Any]] = []
        self.pings = 0
        self.bad_paths: list[str] = []
        self._outbox: list[asyncio.Queue[str]] = []
        # REST
        self.funding_rows = 3
        self.funding_extra: list[dict[str, str]] = []
        self.interval_minutes: dict[str, int] = {}
        self.status: dict[str, str] = {}
        self.rest_fail = False
        self.requests: list[str] = []
        self.rest_port = 0
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    async def start(self) -> None:
        await super().start()
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.rest_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await super().stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def set_ticker(self, topic: str, **fields: str) -> None:
        """Replace ``fields`` in the data of ``topic``'s last frame (the one the keep-alive
        repeats): every connection sends them from its next keep-alive on."""
        obj = json.loads(self.topics[topic][-1])
        obj["data"].update(fields)
        self.topics[topic] = [*self.topics[topic][:-1], compact(obj)]

    def push(self, text: str) -> None:
        for q in self._outbox:
            q.put_nowait(text)

    # ------------------------------------------------------------------ websocket
    def _serves(self, path: str, topic: str) -> bool:
        symbols = {"/v5/public/linear": LINEAR, "/v5/public/inverse": INVERSE}.get(path, set())
        return topic in self.topics and topic.rsplit(".", 1)[-1] in symbols

    async def serve(self, ws: ServerConnection, conn: Conn, closed: asyncio.Future[None]) -> None:
        if conn.path not in ("/v5/public/linear", "/v5/public/inverse"):
            self.bad_paths.append(conn.path)
            await ws.close(1008, "unknown path")
            return
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outbox.append(outbox)
        subs: dict[str, int] = {}
        last: dict[str, tuple[int, int]] = {}
        reader = asyncio.ensure_future(self._read(ws, conn.path, subs, outbox))
        try:
            while True:
                if self.vanish:
                    reader.cancel()
                    await self.hang(ws, closed)
                    return
                while not outbox.empty():
                    await ws.send(outbox.get_nowait())
                if not self.silent:
                    for topic in list(subs):
                        await ws.send(self._next(topic, subs, last))
                        conn.sent += 1
                if not await self.tick(closed):
                    return
        finally:
            reader.cancel()
            self._outbox.remove(outbox)

    def _next(self, topic: str, subs: dict[str, int], last: dict[str, tuple[int, int]]) -> str:
        texts = self.topics[topic]
        i = subs[topic]
        subs[topic] = i + 1
        if i < len(texts):
            text = texts[i]
        else:  # keep-alive: the last real frame, restamped so the sequence rises
            cs, ts = last[topic]
            text = _restamp(texts[-1], cs + 1, ts + 100)
        last[topic] = _seq(text)
        return text

    async def _read(
        self, ws: ServerConnection, path: str, subs: dict[str, int], outbox: asyncio.Queue[str]
    ) -> None:
        conn_id = f"fake-{id(ws):x}"
        async for msg in ws:
            op = json.loads(msg)
            self.ops.append(op)
            req_id = str(op.get("req_id", ""))
            if op.get("op") == "ping":
                self.pings += 1
                if self.answer_pings and not self.vanish:
                    pong = {"success": True, "ret_msg": "pong", "conn_id": conn_id,
                            "req_id": req_id, "op": "ping"}  # fmt: skip
                    outbox.put_nowait(compact(pong))
                continue
            if op.get("op") == "unsubscribe":
                for topic in op.get("args", []):
                    subs.pop(topic, None)
                outbox.put_nowait(
                    compact({"success": True, "ret_msg": "", "conn_id": conn_id,
                             "req_id": req_id, "op": "unsubscribe"})
                )  # fmt: skip
                continue
            if op.get("op") != "subscribe":
                outbox.put_nowait(
                    compact({"success": False, "ret_msg": "error:invalid op",
                             "conn_id": conn_id, "request": op})
                )  # fmt: skip
                continue
            bad = [t for t in op.get("args", []) if not self._serves(path, t)]
            for topic in op.get("args", []):
                if topic not in bad and topic not in subs:
                    subs[topic] = 0
            if bad:
                outbox.put_nowait(
                    compact({"success": False, "ret_msg": f"Invalid topic: {','.join(bad)}",
                             "conn_id": conn_id, "op": "subscribe"})
                )  # fmt: skip
            else:
                outbox.put_nowait(
                    compact({"success": True, "ret_msg": "", "conn_id": conn_id,
                             "req_id": req_id, "op": "subscribe"})
                )  # fmt: skip
            if self.big is not None:
                outbox.put_nowait(self.big)

    # ------------------------------------------------------------------ REST
    def _ok(self, result: Any) -> web.Response:
        now = int(time.time() * 1000)
        return web.json_response(
            {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}
        )

    def _error(self, code: int, msg: str) -> web.Response:
        now = int(time.time() * 1000)
        return web.json_response(
            {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now}
        )

    async def _rest(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        if self.rest_fail:
            return web.json_response({"error": "overloaded"}, status=503)
        q = request.query
        path = request.path
        if path == "/v5/market/time":
            now = time.time_ns()
            return self._ok({"timeSecond": str(now // 10**9), "timeNano": str(now)})
        if path == "/v5/market/instruments-info":
            return self._ok(self._instruments(q.get("category", ""), q))
        if path == "/v5/market/funding/history":
            return self._funding(q)
        if path == "/v5/market/tickers":
            body = load("rest_docs_tickers_inverse_BTCUSD.json")
            if q.get("category") != "inverse":
                body["result"] = {"category": q.get("category", ""), "list": []}
            return web.json_response(body)
        return self._error(10001, f"no route {path}")

    def _instruments(self, category: str, q: Any) -> dict[str, Any]:
        files = {
            "linear": "rest_docs_instruments_info_linear_BTCUSDT.json",
            "inverse": "rest_handmade_instruments_info_inverse_BTCUSD.json",
        }
        if category not in files or q.get("status") == "PreLaunch":
            return {"category": category, "list": [], "nextPageCursor": ""}
        result: dict[str, Any] = load(files[category])["result"]
        rows = [r for r in result["list"] if q.get("symbol") in (None, r["symbol"])]
        for r in rows:
            if r["symbol"] in self.interval_minutes:
                r["fundingInterval"] = self.interval_minutes[r["symbol"]]
            if r["symbol"] in self.status:
                r["status"] = self.status[r["symbol"]]
        return {**result, "list": rows}

    def _funding(self, q: Any) -> web.Response:
        if "startTime" in q and "endTime" not in q:
            return self._error(10001, "params error: endTime is required with startTime")
        category = q.get("category", "")
        if category not in ("linear", "inverse"):
            return self._error(10001, f"params error: category {category!r}")
        rows = settled(category)[: self.funding_rows] + self.funding_extra
        rows = [r for r in rows if r["symbol"] == q.get("symbol")]
        end = int(q.get("endTime", 2**62))
        start = int(q.get("startTime", 0))
        rows = [r for r in rows if start <= int(r["fundingRateTimestamp"]) <= end]
        limit = int(q.get("limit", 200))
        rows = list(reversed(rows))[:limit]  # newest first, as Bybit answers
        return self._ok({"category": category, "list": rows})
