#!/bin/sh
# Opt-in: compile the engine's hot path with mypyc, in place (a .so beside each source, which
# Python imports before the .py). The pure-Python path stays the default: with no .so present
# nothing changes. Figures and what mypyc refused: docs/backtesting.md, "Compiled hot path".
#
#   bench/build_compiled.sh           build (needs the [compiled] extra: pip install -e '.[compiled]')
#   bench/build_compiled.sh --clean   remove the compiled modules: back to pure Python
#   bench/build_compiled.sh --check   say which is in use; exit 1 if a source changed after
#                                     its build (the stale .so would still be the one imported)
#
# PYTHON (default .venv/bin/python) must be the interpreter that runs arbtui: the .so files are
# built for its version. Rebuild (or --clean) after editing any of MODULES.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MODULES="core/domain/market.py core/domain/risk.py core/engine/valuation.py core/engine/pair.py
core/engine/engine.py core/runtime/drive.py"

compiled() { # the .so of each module that has one
    for m in $MODULES; do
        for so in "${m%.py}".*.so; do [ -e "$so" ] && echo "$so"; done
    done
    return 0
}

case "${1:-}" in
--clean)
    for m in $MODULES; do rm -f "${m%.py}".*.so; done
    rm -f ./*__mypyc.*.so
    rm -rf build/__native* build/core build/setup.py build/ops.txt build/temp.* build/lib.*
    rmdir build 2>/dev/null || true # mypyc's build directory, if nothing else is in it
    echo "compiled modules removed: the hot path runs as pure Python"
    ;;
--check)
    if [ -z "$(compiled)" ]; then echo "pure Python (no compiled module)"; exit 0; fi
    stale=0
    for m in $MODULES; do
        for so in "${m%.py}".*.so; do
            if [ ! -e "$so" ]; then echo "$m: not compiled (mixed build)"; stale=1
            elif [ "$m" -nt "$so" ]; then echo "$m: changed after its build ($so)"; stale=1
            fi
        done
    done
    [ "$stale" = 0 ] && echo "compiled: $(compiled | tr '\n' ' ')"
    [ "$stale" = 0 ] || { echo "rebuild (bench/build_compiled.sh) or --clean"; exit 1; }
    ;;
"")
    # shellcheck disable=SC2086 # MODULES is a list of paths without spaces
    "$PY" -m mypyc $MODULES
    # setuptools keeps an unchanged build's old times: stamp the .so files as built now
    compiled | xargs touch
    echo "compiled in place: $(compiled | tr '\n' ' ')"
    ;;
*)
    echo "usage: bench/build_compiled.sh [--clean|--check]" >&2
    exit 2
    ;;
esac
