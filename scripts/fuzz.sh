#!/usr/bin/env bash
# Property-based fuzzing at length: every file reader of the store (log, snapshot, saved graph,
# text index) on RUNS mutations each (default 1,500; the test suite runs 40), every document
# parser and record reader on RUNS mutations per format (the suite runs 60), then the other
# parsers' mutation tests (filter grammar, .npy reader, image and audio decoders, HTTP bodies and
# multipart uploads), which run at their suite sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
KIN_FUZZ_RUNS="${1:-1500}" cargo test -p kin-store --test fuzz_files -- --nocapture
KIN_FUZZ_RUNS="${1:-1500}" RUST_BACKTRACE=0 cargo test -p kin-extract --lib fuzz -- --nocapture
cargo test -p kin-core filter::tests -- never_panic
cargo test -p kin --bin kin npy::tests::mutated_files_never_panic
cargo test -p kin-image --test preprocess -- never_panic
cargo test -p kin-audio --test audio -- never_panics
cargo test -p kin-server --test api fuzz -- --nocapture
