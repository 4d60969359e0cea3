"""The audit log: an append-only, hash-chained record of what the desk did (SQLite, WAL).

Modules: :mod:`~core.observe.audit.chain` (what a row's hash covers, verification),
:mod:`~core.observe.audit.store` (schema, chained insert, streaming reads),
:mod:`~core.observe.audit.writer`
(the single writer thread), :mod:`~core.observe.audit.recorder` (the engine's recorder),
:mod:`~core.observe.audit.export` (CSV / JSON lines), :mod:`~tui.commands.audit` (``arbtui audit``),
:mod:`~core.domain.kinds` (row kinds). This package imports nothing on its own, so that the
file log can share :mod:`~core.domain.kinds` without loading the writer.
"""
