"""arbtui console: the Textual app that shows engine snapshots and turns keys into commands.

Depends on ``core`` (snapshots, commands, the engine host) and Textual; ``core`` never depends
on this package. Nothing here decides a trade: hotkeys submit commands and the engine's risk
gate decides.
"""
