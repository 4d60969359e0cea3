"""Where arbtui keeps what it writes at run time (audit database, file logs).

The state directory is ``$ARBTUI_STATE_DIR`` if set, else ``$XDG_STATE_HOME/arbtui``, else
``~/.local/state/arbtui`` (the XDG base-directory default for state data). It is created
readable by its owner only (0700). Paths in the config (``audit.path``, ``logs.dir``) that
are relative lie under it; absolute paths and ``~`` paths are used as written. Tests point
``$ARBTUI_STATE_DIR`` at a temporary directory, so nothing lands in the repository or $HOME.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """The state directory (not created; see :func:`ensure_dir`)."""
    env = os.environ.get("ARBTUI_STATE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "arbtui"


def resolve(path: str, mode: str | None = None) -> Path:
    """A configured path: absolute or ``~`` as written, relative under :func:`state_dir`;
    ``{mode}`` in it becomes ``mode`` (live, paper or replay) when given."""
    if mode is not None:
        path = path.replace("{mode}", mode)
    p = Path(path).expanduser()
    return p if p.is_absolute() else state_dir() / p


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing, new directories mode 0700; return it.

    Raises OSError if it cannot be created.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; an existing file of ours
    with wider permissions is narrowed to 0600. Raises OSError."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
