"""The audit log: an append-only, hash-chained record of what the desk did (SQLite, WAL).

Modules: :mod:`~core.audit.chain` (what a row's hash covers, verification),
:mod:`~core.audit.store` (schema, chained insert, streaming reads), :mod:`~core.audit.writer`
(the single writer thread), :mod:`~core.audit.recorder` (the engine's recorder),
:mod:`~core.audit.export` (CSV / JSON lines), :mod:`~core.audit.cli` (``arbtui audit``),
:mod:`~core.audit.kinds` (row kinds). This package imports nothing on its own, so that the
file log can share :mod:`~core.audit.kinds` without loading the writer.
"""
