#!/usr/bin/env bash
# The crash harness at length: the store's writer processes killed with SIGKILL at random points,
# CYCLES times (default 1,000) for a collection of one model and for a mixed collection; after
# every restart each acknowledged write is there, nothing unacknowledged or deleted is, the
# vector and text indexes agree with the items, and `check` finds no damage.
# The test suite runs the same tests at 60 and 30 cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
export KIN_CRASH_CYCLES="$cycles"
start=$(date +%s)
cargo test -p kin-store --test crash -- --exact sigkill_at_random_points --nocapture
cargo test -p kin-store --test spaces -- --exact sigkill_during_writes_across_spaces --nocapture
echo "$cycles kill cycles of each writer passed in $(( $(date +%s) - start )) s"
