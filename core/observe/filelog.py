"""The file log: rotating JSON lines of trade events and errors, with secrets redacted.

Standard ``logging`` all the way: records of the ``arbtui`` logger tree go through a
``QueueHandler`` (the engine thread only enqueues) to a ``QueueListener`` thread that writes
them with a :class:`PrivateRotatingFileHandler` (files created 0600) formatted by
:class:`JsonLinesFormatter` (one object a line, UTC times) after :class:`RedactSecrets` has
removed API keys, secrets and signatures. :class:`FileLogRecorder` turns the engine's
records (not the hourly market samples) into ``arbtui.events`` lines.

A line: ``{"ts": "2026-01-02T03:04:05.678Z", "ts_ms": 1767323045678, "level": "INFO",
"logger": "arbtui.events", "msg": "fill", "run_id": "...", "event": "fill", "data": {...}}``
(``data`` holds the record's fields, Decimals as strings; ``exc`` a traceback if any).
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import os
import queue
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import orjson

from core.domain.kinds import kind_of
from core.domain.orders import OrderIntent
from core.domain.records import AlertRaised, ErrorRaised, MarketObserved, Record
from core.observe.redaction import env_secrets, redact, redact_value
from core.observe.statedir import ensure_dir

LOG_NAME = "arbtui.jsonl"
DRAIN_S = 0.05
"""The log thread's polling period (a line reaches the file within about this)."""

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactSecrets(logging.Filter):
    """Removes credentials from a record's message, traceback and extra fields (see
    :func:`redact`); a dict key that names a credential has its whole value removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_line", None) is not None:
            return True  # built by the log thread from already redacted fields
        secrets = env_secrets()
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and key[0] != "_":
                setattr(record, key, redact_value(value, secrets))
        return True


def utc_iso(ts_ms: int) -> str:
    """UTC ms -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (as core.domain.timeutil.ms_to_iso, faster)."""
    sec, ms = divmod(ts_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    return str(obj)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record, UTC times (``ts`` ISO with ms, ``ts_ms``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: str | None = getattr(record, "_line", None)
        if line is not None:  # the rotating handler formats twice (size check, then write)
            return line
        ts_ms = int(record.created * 1000)
        out: dict[str, Any] = {
            "ts": utc_iso(ts_ms),
            "ts_ms": ts_ms,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key[0] != "_":
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            out["exc"] = record.exc_text
        line = orjson.dumps(out, default=_json_default).decode()
        record._line = line
        return line


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are created (and kept) mode 0600, and which counts
    the bytes it writes instead of asking the text stream (``tell()`` is slow)."""

    _size = 0

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        st = os.fstat(fd)
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        self._size = st.st_size
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        """Write one line, rotating first if it would take the file past ``maxBytes``."""
        try:
            line = self.format(record) + self.terminator
            n = len(line.encode("utf-8"))
            if self.stream is None:
                self.stream = self._open()
            if self.maxBytes > 0 and self._size > 0 and self._size + n > self.maxBytes:
                self.doRollover()
                if self.stream is None:
                    self.stream = self._open()
            self.stream.write(line)
            self.stream.flush()
            self._size += n
        except Exception:
            self.handleError(record)


class _Enqueue(logging.handlers.QueueHandler):
    """Enqueue a shallow copy with the message merged; traceback kept apart (``exc_text``)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


class _Listener(logging.handlers.QueueListener):
    """Also takes ``(run_id, record, wall_s)`` tuples from :class:`FileLogRecorder` and
    turns them into ``arbtui.events`` log records here, off the engine's thread.

    It drains the queue every :data:`DRAIN_S` rather than waking for each record, so that a
    burst of fills costs the engine's thread no thread switch per line."""

    def __init__(self, q: queue.SimpleQueue[Any], handler: logging.Handler) -> None:
        super().__init__(q, handler, respect_handler_level=True)
        self._stopping = threading.Event()

    def dequeue(self, block: bool) -> Any:
        while True:
            try:
                return cast("queue.SimpleQueue[Any]", self.queue).get_nowait()
            except queue.Empty:
                if not block:
                    raise
                self._stopping.wait(DRAIN_S)

    def stop(self) -> None:
        """Write what is queued and stop the log thread (at once, not at the next poll)."""
        self._stopping.set()
        super().stop()

    def prepare(self, record: Any) -> logging.LogRecord:
        if isinstance(record, logging.LogRecord):
            return record
        run_id, rec, wall_s = record
        kind = kind_of(rec)
        if isinstance(rec, ErrorRaised):
            level = logging.ERROR
        elif isinstance(rec, AlertRaised) or kind == "rejection":
            level = logging.WARNING
        else:
            level = logging.INFO
        ts_ms = int(wall_s * 1000)
        line = {
            "ts": utc_iso(ts_ms),
            "ts_ms": ts_ms,
            "level": logging.getLevelName(level),
            "logger": EVENTS.name,
            "msg": kind,
            "run_id": run_id,
            "event": kind,
            "data": redact_value(rec, env_secrets()),
        }
        out = EVENTS.makeRecord(EVENTS.name, level, "", 0, kind, (), None)
        out.created = wall_s
        out._line = orjson.dumps(line, default=_json_default).decode()
        return out


EVENTS = logging.getLogger("arbtui.events")


class FileLog:
    """One rotating JSON-lines file under ``directory``, fed by the ``arbtui`` logger tree.

    Shared by every run of the process that logs to the same directory (reference counted):
    get it with :meth:`acquire`, give it back with :meth:`release`.
    """

    _open: dict[Path, FileLog] = {}  # noqa: RUF012 (process-wide registry)
    _lock = threading.Lock()

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self._users = 0
        self.file_handler = PrivateRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self.file_handler.addFilter(RedactSecrets())
        self.file_handler.setFormatter(JsonLinesFormatter())
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queue_handler = _Enqueue(self.queue)
        self._listener = _Listener(self.queue, self.file_handler)

    @classmethod
    def acquire(
        cls, directory: Path, max_bytes: int, backups: int, name: str = LOG_NAME
    ) -> FileLog:
        """The file log ``name`` in ``directory`` (created 0700), started on first use.
        Raises OSError if the directory or file cannot be created."""
        path = (ensure_dir(directory) / name).resolve()
        env_secrets(refresh=True)
        with cls._lock:
            log = cls._open.get(path)
            if log is None:
                log = cls._open[path] = FileLog(path, max_bytes, backups)
                root = logging.getLogger("arbtui")
                if root.level == logging.NOTSET:
                    root.setLevel(logging.INFO)
                root.addHandler(log._queue_handler)
                log._listener.start()
            log._users += 1
            return log

    def release(self) -> None:
        """Give the log back; the last user flushes and closes the file."""
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            del self._open[self.path]
            logging.getLogger("arbtui").removeHandler(self._queue_handler)
        self._listener.stop()
        self.file_handler.close()


class FileLogRecorder:
    """Writes the engine's records to ``log`` (market samples excepted): errors at ERROR,
    alerts and rejections at WARNING, the rest at INFO, tagged with ``run_id``. The engine's
    thread only enqueues a tuple; the log record is built on the listener's thread."""

    def __init__(self, log: FileLog, run_id: str) -> None:
        self.run_id = run_id
        self._put = log.queue.put

    def before_send(self, intent: OrderIntent) -> None:
        """Log the intent (never blocks; the audit log is the write-ahead record)."""
        self._put((self.run_id, intent, time.time()))

    def record(self, rec: Record) -> None:
        """Log one record (never blocks)."""
        if not isinstance(rec, MarketObserved):
            self._put((self.run_id, rec, time.time()))
