"""Assembly of a run's observers: what gets attached to every engine, in every mode.

:func:`attach_observers` is called once per engine by the headless runner and the host; it
registers the recorders (audit log, file log, metrics: issue 5) and returns them as
:class:`Observers`, with what must be closed, in order, when the run ends. Whoever needs one
observer (the audit export, the feed health, the live order path) is handed it from there: no
module finds an observer by scanning the engine. Keeping this in one place means every mode
records the same way.
"""

from __future__ import annotations

import errno
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.domain.config import ConfigError
from core.observe.audit.recorder import AuditRecorder
from core.observe.audit.writer import AuditWriteError
from core.observe.filelog import FileLog, FileLogRecorder
from core.observe.metrics import Metrics
from core.observe.statedir import resolve

if TYPE_CHECKING:
    from core.engine.engine import Engine

Closer = Callable[[], None]


@dataclass
class Observers:
    """The observers attached to one engine: ``audit`` (None when ``[audit]`` is off),
    ``metrics`` (None when observers were not attached) and the ``closers`` to call, in order,
    at the end of the run."""

    audit: AuditRecorder | None = None
    metrics: Metrics | None = None
    closers: list[Closer] = field(default_factory=list)


def attach_observers(engine: Engine, *, run_id: str) -> Observers:
    """Attach every configured recorder to ``engine``; return them with their closers (call
    each at the end, within the 2 s shutdown budget). ``run_id`` names this run in logs and
    the audit; a UTC start time and a random suffix are added so that every run's id is unique.

    Attached, in this order: the audit log (``[audit]``, unless disabled; one database per
    mode), the file log (``[logs]``; replays only with ``logs.in_replay``), the metrics
    (always recorded; served when ``[metrics] port`` is not 0; a port that cannot be bound,
    e.g. taken by another run, is an alert (:func:`metrics_off_text`) and the run goes on
    without serving them, never a failure). Raises :class:`ConfigError`
    naming ``audit.path`` or ``logs.dir`` when the audit database or the log file cannot be
    opened (nothing is left attached then).
    """
    s = engine.settings
    run_id = f"{run_id}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
    closers: list[Closer] = []
    audit = None
    if s.audit.enabled:
        try:
            audit = AuditRecorder.for_engine(engine, resolve(s.audit.path, engine.mode), run_id)
        except AuditWriteError as exc:
            raise ConfigError(f"audit.path: {exc}") from None
    if s.logs.enabled and (engine.mode != "replay" or s.logs.in_replay):
        name = f"arbtui-{engine.mode}.jsonl"
        try:
            log = FileLog.acquire(resolve(s.logs.dir), s.logs.max_bytes, s.logs.backups, name)
        except OSError as exc:
            if audit is not None:
                audit.close()
            raise ConfigError(f"logs.dir: {resolve(s.logs.dir)}: {exc.strerror}") from None
        engine.recorders.append(FileLogRecorder(log, run_id))
        closers.append(log.release)
    if audit is not None:
        engine.recorders.append(audit)
    metrics = Metrics(engine)
    engine.recorders.append(metrics)
    if s.metrics.port:
        try:
            metrics.serve(s.metrics.host, s.metrics.port)
            closers.append(metrics.close)
        except OSError as exc:
            engine.alert(metrics_off_text(s.metrics.host, s.metrics.port, exc))
    if audit is not None:
        closers.append(audit.close)  # last: it may raise if rows could not be written
    return Observers(audit, metrics, closers)


def metrics_off_text(host: str, port: int, exc: OSError) -> str:
    """The alert of a metrics port that could not be bound: the run goes on, metrics off.
    ``metrics port 9464 in use on 127.0.0.1: metrics off for this run (another arbtui? ...)``
    for a taken port (EADDRINUSE), else the system's reason."""
    hint = "set [metrics] port or --metrics-port to another port, 0 to turn them off"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"metrics port {port} in use on {host}: metrics off for this run "
            f"(another arbtui? {hint})"
        )
    why = exc.strerror or str(exc)
    return f"metrics not served on {host}:{port} ({why}): metrics off for this run ({hint})"
