#!/usr/bin/env bash
# The crash harness at length: writers killed with SIGKILL at random points, CYCLES times
# (default 1,000) each: the store's writer on a collection of one model and on a mixed
# collection, four concurrent HTTP clients of `kin serve` (every other server also killed at a
# step of its snapshots by KIN_FAULTS), and `kin import` / `kin delete`. After every restart each
# acknowledged write is there, nothing unacknowledged or deleted is, the vector and text indexes
# agree with the items, and `check` finds no damage. Then a kill at every named step of a write
# and a snapshot (crash_points.rs, a fixed set).
# The test suite runs the same tests at 60, 30, 50 and 16 cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
export KIN_CRASH_CYCLES="$cycles"
start=$(date +%s)
cargo test -p kin-store --test crash -- --exact sigkill_at_random_points --nocapture
cargo test -p kin-store --test spaces -- --exact sigkill_during_writes_across_spaces --nocapture
cargo test -p kin --test crash -- --exact sigkill_during_concurrent_http_writes --nocapture
cargo test -p kin --test crash -- --exact sigkill_during_cli_imports_and_deletes --nocapture
cargo test -p kin-store --test crash_points -- --nocapture
echo "$cycles kill cycles of each writer passed in $(( $(date +%s) - start )) s"
