#!/usr/bin/env python3
"""kin serve under load vs kin embed offline, in one run on one machine.

1. Offline: `kin embed --input corpus.txt --output out.npy`, timed whole, and minus a one-line
   run (process start and model load), for the steady-state rate.
2. Served: `kin serve` with the model loaded; 32 concurrent clients (one keep-alive connection
   each, `examples/serve_load`) each POST /v1/embeddings with ONE text per request until the
   corpus is done. Batching across requests is what lets this keep up with the offline run.
3. Search: the offline vectors are upserted into a collection; 32 clients search it by vector
   (k=10) and by text (embedding each query) for a fixed time.

    cargo build --release -p kin && cargo build --release -p kin-server --example serve_load
    python scripts/bench/make_corpus.py --out ../bench/corpus.txt
    python scripts/bench/bench_serve.py --kin target/release/kin \
        --load target/release/examples/serve_load --corpus ../bench/corpus.txt --n 800
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def read_npy(path):
    raw = open(path, "rb").read()
    header_len = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + header_len].decode()
    rows, cols = [int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip()]
    data = struct.unpack("<%df" % (rows * cols), raw[10 + header_len:])
    return [list(data[r * cols:(r + 1) * cols]) for r in range(rows)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kin", required=True)
    ap.add_argument("--load", required=True, help="the serve_load example binary")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--search-seconds", type=float, default=10)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kin-bench-serve-")
    lines = [l for l in open(args.corpus).read().splitlines() if l.strip()][: args.n]
    corpus = os.path.join(work, "corpus.txt")
    open(corpus, "w").write("\n".join(lines) + "\n")
    one = os.path.join(work, "one.txt")
    open(one, "w").write(lines[0] + "\n")
    out = os.path.join(work, "out.npy")

    embed = [args.kin, "embed", "--model", args.model, "--input"]
    timed(embed + [one, "--output", os.path.join(work, "one.npy")])  # warm the file cache
    start = min(timed(embed + [one, "--output", os.path.join(work, "one.npy")]) for _ in range(2))
    whole = timed(embed + [corpus, "--output", out])
    offline = {"seconds": whole, "per_second_whole": len(lines) / whole, "per_second_steady": len(lines) / (whole - start)}
    print(f"offline kin embed: {len(lines)} texts in {whole:.2f}s = {offline['per_second_whole']:.1f}/s "
          f"({offline['per_second_steady']:.1f}/s without the {start:.2f}s start and load)", flush=True)

    data = os.path.join(work, "data")
    server = subprocess.Popen([args.kin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--model", args.model],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = next(w for w in server.stdout.readline().split() if w.startswith("http://"))
        while True:
            try:
                urllib.request.urlopen(url + "/readyz", timeout=5)
                break
            except Exception:
                time.sleep(0.1)
        for text in lines[:32]:
            post(url + "/v1/embeddings", {"model": args.model, "input": text})
        served = run_json([args.load, "embed", url, args.model, corpus, str(args.clients)])
        served["ratio_to_offline_whole"] = served["per_second"] / offline["per_second_whole"]
        served["ratio_to_offline_steady"] = served["per_second"] / offline["per_second_steady"]
        print(f"served, {args.clients} clients, one text per request: {served['per_second']:.1f} texts/s = "
              f"{served['ratio_to_offline_whole']:.2f}x offline whole, {served['ratio_to_offline_steady']:.2f}x steady; "
              f"p50 {served['p50_ms']:.0f} ms, p99 {served['p99_ms']:.0f} ms", flush=True)

        post(url + "/v1/collections", {"name": "bench", "model": args.model})
        vectors = read_npy(out)
        for i in range(0, len(vectors), 256):
            items = [{"id": j, "vector": v, "payload": {"text": lines[j]}} for j, v in enumerate(vectors[i:i + 256], start=i)]
            post(url + "/v1/collections/bench/items", {"items": items})
        by_vector = run_json([args.load, "search", url, "bench", corpus, str(args.clients), str(args.search_seconds), "vector"])
        by_text = run_json([args.load, "search", url, "bench", corpus, str(args.clients), str(args.search_seconds), "text"])
        for name, r in [("by vector", by_vector), ("by text", by_text)]:
            print(f"search {name}, {args.clients} clients, k=10 over {len(vectors)} items: {r['per_second']:.1f} queries/s; "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms", flush=True)
        metrics = urllib.request.urlopen(url + "/metrics").read().decode()
        batch = {l.split()[0]: float(l.split()[1]) for l in metrics.splitlines() if l.startswith("kin_batch_size_")
                 and not l.startswith("kin_batch_size_bucket")}
        mean_batch = batch.get("kin_batch_size_sum", 0) / max(1.0, batch.get("kin_batch_size_count", 1))
        print(f"mean texts per forward pass: {mean_batch:.1f}")
        print(json.dumps({"offline": offline, "served": served, "search_vector": by_vector, "search_text": by_text,
                          "mean_batch": mean_batch}))
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
