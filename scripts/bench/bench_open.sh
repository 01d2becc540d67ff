#!/usr/bin/env bash
# Opening a collection: N random unit vectors of dimension D imported with `kin import`, then a
# one-query `kin search` from a new process, five times. Reports the import time, each search's
# wall time and the ratio, and `kin collection info` (index memory, disk size).
#
#   scripts/bench/bench_open.sh [N=200000] [D=100]
#
# PROFILE=dev uses the dev profile's binary (also built at opt-level 3, without thin LTO).
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-200000}"
dim="${2:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
. scripts/bench/build_kin.sh
export KIN_DATA="$work/data"

grep -m1 'model name' /proc/cpuinfo || true
python3 - "$work" "$n" "$dim" <<'PY'
import sys
import numpy as np
work, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
base = rng.standard_normal((n, dim), dtype=np.float32)
np.save(f"{work}/base.npy", base)
np.save(f"{work}/query.npy", base[:1] + 0.01 * rng.standard_normal((1, dim), dtype=np.float32))
PY
"$kin" collection create open --dim "$dim" >/dev/null
start=$(date +%s.%N)
/usr/bin/time -f "import peak memory: %M KiB" "$kin" import open --vectors "$work/base.npy"
import_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "import: ${import_s} s"
for i in 1 2 3 4 5; do
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/search-time" -f "%M" "$kin" search open --vector-file "$work/query.npy" -k 10 --json > "$work/hits.json"
  s=$(echo "$(date +%s.%N) - $start" | bc)
  echo "search $i: ${s} s ($(echo "scale=2; 100 * $s / $import_s" | bc) % of the import), peak memory $(cat "$work/search-time") KiB"
done
"$kin" collection info open
