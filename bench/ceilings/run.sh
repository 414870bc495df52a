#!/usr/bin/env bash
# Builds and runs ceilings.cpp: the best this CPU does on issue 4's memory-bound access patterns (1 thread and all
# threads), the divider's and an accurate exp's cost. A probe of the machine, not of convlite; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"${CXX:-g++}" -O2 -mavx2 -mfma -fopenmp -o "$out/ceilings" ceilings.cpp
"$out/ceilings"
