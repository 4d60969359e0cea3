"""The console's audit export (:class:`~core.domain.commands.ExportAudit`): this session's
audit rows to ``<state dir>/exports/audit-<run>-<UTC stamp>.csv``, off the engine's loop."""

from __future__ import annotations

import datetime as dt

from core.domain.commands import ExportAudit
from core.observe.audit.recorder import AuditRecorder
from core.observe.statedir import ensure_dir, state_dir


def export_audit(audit: AuditRecorder | None, command: ExportAudit) -> None:
    """Run ``command`` on ``audit`` (the run's audit recorder, None when the audit log is off)
    to its end on the calling thread; never raises (a failure is reported through
    ``command.done`` with ``ok`` False)."""
    done = command.done or (lambda message, ok: None)
    if audit is None:
        done("The audit log is off: nothing to export.", False)
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        out = ensure_dir(state_dir() / "exports") / f"audit-{audit.run_id}-{stamp}.csv"
        rows = audit.export_session(out, "csv", command.progress)
    except Exception as exc:  # say so; the session goes on
        done(f"Export failed: {exc}", False)
    else:
        done(f"Exported {rows} row{'' if rows == 1 else 's'} to {out}", True)
