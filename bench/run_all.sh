#!/usr/bin/env bash
# The full side-by-side benchmark as recorded in bench/RESULTS.md: Markdown table to bench/results/latest.md, every
# cell (samples included) to bench/results/latest.json. Extra arguments go to `python -m convlite.bench`
# (e.g. --threads 1, --only train). bench/results/ is not committed; paste the table into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
PYTHON=${PYTHON:-python}
if [ -z "${CONVLITE_BENCH_INSTALLED:-}" ] && [ -d python/convlite ]; then
  export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"  # an in-place build (CONVLITE_INPLACE=ON)
fi
"$PYTHON" -m convlite.bench --markdown --json bench/results/latest.json "$@" | tee bench/results/latest.md
