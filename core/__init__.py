"""arbtui engine: market state, funding-arb strategy, ledger, risk and replay.

This package is headless. It must never import textual or rich (a test checks it), so that the
same engine runs under the console, in headless replays and in worker processes.
"""
