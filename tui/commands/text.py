"""Rich renderables (tables, grids) as plain text for the commands' standard output."""

from __future__ import annotations

import io
import shutil
import sys

from rich.console import Console, RenderableType

#: Width of text written to a file or a pipe (nothing wraps there).
PIPE_WIDTH = 1000


def render(renderable: RenderableType, width: int | None = None) -> str:
    """``renderable`` as plain text without styles or trailing spaces: as wide as the terminal
    when stdout is one, else :data:`PIPE_WIDTH` (unless ``width`` is given)."""
    if width is None:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else PIPE_WIDTH
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, highlight=False).print(renderable)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").split("\n"))
