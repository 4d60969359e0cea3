"""Builders for the audit, file-log and metrics tests: settings that write under a temporary
directory, and a headless replay of the shipped file that leaves an audit log there."""

from __future__ import annotations

import shutil
import socket
import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from core.domain.config import Settings
from core.runtime.headless import run_replay
from tests.conftest import SHIPPED_REPLAY


def observed(settings: Settings, tmp: Path, *, port: int = 0, **audit: Any) -> Settings:
    """``settings`` with the audit database at ``tmp/audit.db`` (whatever the mode), the file
    log in ``tmp/logs`` (replays included) and the metrics endpoint on ``port`` (0: off);
    ``audit`` overrides further ``[audit]`` keys."""
    return msgspec.structs.replace(
        settings,
        audit=msgspec.structs.replace(settings.audit, **{"path": str(tmp / "audit.db"), **audit}),
        logs=msgspec.structs.replace(settings.logs, dir=str(tmp / "logs"), in_replay=True),
        metrics=msgspec.structs.replace(settings.metrics, host="127.0.0.1", port=port),
    )


def replay_into(settings: Settings, tmp: Path) -> tuple[Path, dict[str, Any]]:
    """Replay the shipped March 2020 file headless; return the audit database and the report."""
    report = run_replay(observed(settings, tmp), SHIPPED_REPLAY)
    return tmp / "audit.db", report


def tamper_copy(db: Path, dest: Path, *sql: str) -> Path:
    """A copy of ``db`` at ``dest`` changed by ``sql`` the way an intruder would: the
    append-only triggers dropped first."""
    shutil.copy(db, dest)
    conn = sqlite3.connect(dest)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for stmt in sql:
        conn.execute(stmt)
    conn.commit()
    conn.close()
    return dest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
