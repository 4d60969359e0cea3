"""arbtui engine: market state, funding-arb strategy, ledger, risk and replay.

This package is headless. It must never import textual or rich (a test checks it), so that the
same engine runs under the console, in headless replays and in worker processes.
"""

import sys
from pathlib import Path

# The opt-in compiled build (bench/build_compiled.sh) leaves mypyc's runtime library at the
# checkout's root, which the compiled modules import by its top-level name: make it importable
# however arbtui was started (console script, -m, a test). A pure-Python checkout has none.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path and any(_ROOT.glob("*__mypyc.*.so")):
    sys.path.append(str(_ROOT))
