"""Settings of a run's plumbing: live feeds, audit log, file log, metrics, order queue and
the live venues (``[feeds]``, ``[audit]``, ``[logs]``, ``[metrics]``, ``[queue]``,
``[venues]``). Part of :mod:`core.domain.config` (which re-exports every name here); kept apart
so that the strategy's settings read on one page.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A settings table: frozen, keyword-only, and an unknown key is an error."""


class FeedSettings(Strict, frozen=True):
    """Live market data (paper and live modes): where the venues are and how the feeds stay
    healthy. Defaults are the real exchange addresses; tests point them at 127.0.0.1."""

    binance_ws_url: str = "wss://fstream.binance.com"
    """Binance USD-M stream host: markPrice on ``/market``, bookTicker on ``/public``."""
    binance_rest_url: str = "https://fapi.binance.com"
    """Binance USD-M REST host (exchangeInfo, fundingInfo, fundingRate)."""
    bitmex_ws_url: str = "wss://ws.bitmex.com/realtime"
    """BitMEX realtime WebSocket endpoint."""
    bitmex_rest_url: str = "https://www.bitmex.com"
    """BitMEX REST host (instrument list)."""
    bybit_ws_url: str = "wss://stream.bybit.com"
    """Bybit v5 public stream host; ``/v5/public/linear`` or ``/v5/public/inverse`` is appended
    by instrument kind (Bybit docs ``ws/connect``)."""
    bybit_rest_url: str = "https://api.bybit.com"
    """Bybit v5 REST host (instruments-info, funding/history)."""
    bybit_ping_s: float = 20.0
    """Seconds between two Bybit ``{"op":"ping"}`` heartbeats (Bybit recommends 20 s)."""
    stale_after_s: float = 5.0
    """A stream silent this long is stale: nothing new is opened and it reconnects (H13)."""
    bitmex_pong_timeout_s: float = 5.0
    """After a silent BitMEX socket sends ``ping``, no ``pong`` within this reconnects."""
    reconnect_base_s: float = 1.0
    """First reconnect delay; doubles per failed attempt, with jitter."""
    reconnect_cap_s: float = 60.0
    """Longest reconnect delay. Attempts are never closer than 1 s apart, whatever these say."""
    binance_rotate_after_s: float = 82_800.0
    """Planned Binance reconnect (the venue closes sockets at 24 h): a new socket is opened
    and takes over once live, before the old one closes, so no data is missed."""
    max_frame_bytes: int = 1_048_576
    """Largest WebSocket frame accepted; a bigger one drops the socket (counted)."""
    funding_info_refresh_s: float = 3_600.0
    """How often Binance ``fundingInfo`` (per-symbol funding intervals) is read again."""
    funding_rate_poll_s: float = 300.0
    """How often Binance ``fundingRate`` (settled rates) is read; also just after each
    settlement."""
    rest_timeout_s: float = 10.0
    """Timeout of one REST call (instrument specs, funding info, settled rates)."""
    status_every_s: float = 5.0
    """Headless paper runs print a status line this often."""


class AuditSettings(Strict, frozen=True):
    """The hash-chained audit log (SQLite, WAL; see core/audit)."""

    enabled: bool = True
    """Write the audit log (every order intent, fill, rejection, funding payment, state
    change, operator command, alert and exception)."""
    path: str = "audit-{mode}.db"
    """Database file; ``{mode}`` becomes live, paper or replay, so that simulated trades never
    mix with the desk's real ones. A relative path lies under the state directory
    (``$ARBTUI_STATE_DIR``, else ``$XDG_STATE_HOME/arbtui``, else ``~/.local/state/arbtui``)."""
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite ``synchronous``: FULL syncs every commit to disk (survives a power cut);
    NORMAL survives a crash of the process but not of the machine."""
    batch_ms: int = 100
    """Rows other than order intents are committed in batches at least this often (ms)."""
    batch_rows: int = 500
    """... or as soon as this many rows wait."""
    write_ahead_timeout_s: float = 2.0
    """An order is not sent (it is rejected) if its intent is not committed within this."""
    write_ahead_in_replay: bool = False
    """Block on the commit of each order intent in replays too (paper and live always do;
    a replay sends nothing real, so by default its intents are batched like other rows)."""


class LogSettings(Strict, frozen=True):
    """Rotating JSON-lines file log of trade events and errors (see core/filelog)."""

    enabled: bool = True
    dir: str = "logs"
    """Directory of ``arbtui-{mode}.jsonl`` (mode live, paper or replay); a relative path
    lies under the state directory."""
    in_replay: bool = False
    """Write the file log in replays too (their audit log and report hold every event)."""
    max_bytes: int = 10_000_000
    """Rotate when the file reaches this size (bytes)."""
    backups: int = 10
    """Rotated files kept (``arbtui-live.jsonl.1`` ... ``.N``)."""


class MetricsSettings(Strict, frozen=True):
    """Prometheus endpoint (see core/metrics)."""

    host: str = "127.0.0.1"
    """Address to bind; keep 127.0.0.1 unless a scraper on another host must reach it."""
    port: int = 9464
    """TCP port; 0 disables the endpoint. ``--metrics-port`` and ``$ARBTUI_METRICS_PORT``
    override it (in that order)."""


class QueueSettings(Strict, frozen=True):
    """Order queue between the engine and the executors (DESIGN "Execution", HAZARDS H14-H15).
    An empty ``redis_url`` keeps the queue in-process; with it set, intents go through a
    reliable Redis queue that ``arbtui worker`` processes also consume."""

    redis_url: str = ""
    """``redis://127.0.0.1:6379/0``; empty = in-process queue."""
    key_prefix: str = "arbtui"
    """Prefix of every Redis key (several desks may share one Redis)."""
    block_timeout_s: float = 5.0
    """Redis-side timeout of blocking moves (BLMOVE/BRPOP), seconds."""
    socket_timeout_s: float = 10.0
    """Client socket timeout, seconds; must be larger than ``block_timeout_s``."""
    lease_s: float = 10.0
    """A worker whose heartbeat lease is this old is dead; its items are re-queued."""
    max_inflight: int = 64
    """Intents one worker executes at the same time."""


class BinanceVenueSettings(Strict, frozen=True):
    """Binance USD-M through ccxt ``binanceusdm``. Keys: ``$ARBTUI_BINANCE_KEY`` and
    ``$ARBTUI_BINANCE_SECRET`` (never in this file)."""

    env: Literal["demo", "production"] = "demo"
    """``demo`` = Binance demo trading (ccxt ``enable_demo_trading``)."""
    rest_url: str = ""
    """Override of the REST base (``http://127.0.0.1:PORT``); empty = the env's own."""
    ws_url: str = ""
    """Override of the user-data stream base (the listenKey is appended)."""
    recv_window_ms: int = 5000
    """Binance ``recvWindow``: a request older than this is refused by the matching engine,
    so a lookup after ``request_timeout_ms + unknown_grace_ms`` is final (HAZARDS H9)."""
    listen_key_keepalive_s: float = 1800.0
    """``PUT /fapi/v1/listenKey`` period (the key lives 60 min)."""


class BybitVenueSettings(Strict, frozen=True):
    """Bybit v5 (linear and inverse perpetuals) through ccxt ``bybit``. Keys:
    ``$ARBTUI_BYBIT_KEY`` and ``$ARBTUI_BYBIT_SECRET`` (never in this file)."""

    env: Literal["demo", "production"] = "demo"
    """``demo`` = Bybit demo trading (REST ``api-demo.bybit.com``, private stream
    ``stream-demo.bybit.com``; Bybit docs "Demo Trading Service")."""
    rest_url: str = ""
    """Override of the REST base (``http://127.0.0.1:PORT``); empty = the env's own."""
    ws_url: str = ""
    """Override of the private stream URL (``ws://.../v5/private``); empty = the env's own."""
    recv_window_ms: int = 5000
    """``X-BAPI-RECV-WINDOW``: the venue refuses a request older than this (retCode 10002),
    so a lookup after ``request_timeout_ms + unknown_grace_ms`` is final (HAZARDS H9)."""
    ping_s: float = 20.0
    """JSON ``{"op":"ping"}`` period on the private stream (Bybit recommends 20 s)."""


class VenuesSettings(Strict, frozen=True):
    """Live venues (``arbtui --live`` and ``arbtui worker``)."""

    binance: BinanceVenueSettings = BinanceVenueSettings()
    bybit: BybitVenueSettings = BybitVenueSettings()
    request_timeout_ms: int = 10000
    """REST timeout; an order whose answer did not come is UNKNOWN and looked up."""
    unknown_grace_ms: int = 2000
    """After an UNKNOWN answer, wait this long for the user stream before a lookup."""
    resolve_budget_s: float = 60.0
    """Give up resolving an UNKNOWN order after this long (it stays UNKNOWN, alerted)."""
    max_rate_wait_s: float = 5.0
    """Longest wait for a venue's rate limit or ban before an order is refused unsent."""
    position_check_s: float = 30.0
    """Read every traded position by REST this often (and soon after every fill, kill,
    reconnect and position-stream update) and compare it with the ledger; 0 = only then."""
    clock_resync_s: float = 300.0
    """Measure each venue's clock offset again this often (and after any timestamp refusal:
    Binance -1021, Bybit 10002); 0 = only after a refusal."""
    deadman_s: float = 60.0
    """Dead-man switch: while feeds and the engine loop are healthy, keep a venue-side
    cancel-all countdown of this many seconds armed on each traded symbol, refreshed every
    third of it, so that open orders die if the process does (Binance
    ``countdownCancelAll``; Bybit offers one to institutional accounts only: skipped);
    0 = off."""
