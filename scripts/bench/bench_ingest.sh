#!/usr/bin/env bash
# `kin add` over generated documents of every format (plain text, Markdown, HTML, PDF, DOCX; 300
# to 3,000 words each): wall time, the share of extraction and chunking against embedding, and
# peak memory. Prints the CPU and the kernels in use first.
#
#   scripts/bench/bench_ingest.sh [N=1000] [MODEL=all-MiniLM-L6-v2]
#
# PROFILE=dev uses the dev profile's binaries (also built at opt-level 3, without thin LTO).
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000}"
model="${2:-all-MiniLM-L6-v2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

. scripts/bench/build_kin.sh
cargo build --profile "$profile" --quiet -p kin-extract --features testdata --example make_documents
export KIN_DATA="$work/data"

grep -m1 'model name' /proc/cpuinfo || true
echo "SIMD: $(grep -m1 -o -w -E 'avx512f|avx512_vnni|avx512_bf16|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$kin" --version
"$bin/examples/make_documents" "$work/docs" "$n"
du -sh "$work/docs"
"$kin" models pull "$model" >/dev/null
"$kin" collection create bench --model "$model" >/dev/null
/usr/bin/time -v "$kin" add bench "$work/docs" --timing 2> "$work/time.txt"
grep -E 'Elapsed|Maximum resident' "$work/time.txt"
grep -v -E '^\s+(Command|Average|Exit|Socket|Signals|Swaps|File system|Page size|Minor|Major|Voluntary|Involuntary|Percent|System time|User time)' "$work/time.txt" | grep -v -E 'Elapsed|Maximum resident' || true
