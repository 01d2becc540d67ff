#!/usr/bin/env python3
"""kin on Milvus against pymilvus, the official client, on the same Milvus Lite server.

Same vectors, same schema (string primary key, float vector, JSON payload, HNSW with cosine),
one server, one run. Reports ingest (upserts of 10,000 rows, as `kin import` sends them) and
one-query-at-a-time search with Strong consistency, k=10.

    pip install numpy milvus-lite pymilvus
    cargo build --release -p kin
    python scripts/bench/bench_milvus.py --kin target/release/kin --n 20000 --dim 384 --queries 40 --reps 3
"""

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time

import numpy as np


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kin", default="target/release/kin")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from pymilvus import DataType, MilvusClient

    rng = np.random.default_rng(7)
    base = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[rng.choice(args.n, args.queries, replace=False)] + 0.05 * rng.standard_normal(
        (args.queries, args.dim)).astype(np.float32)

    work = tempfile.mkdtemp()
    port = free_port()
    server = subprocess.Popen(["milvus-lite", "server", "--data-dir", os.path.join(work, "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"milvus://127.0.0.1:{port}"
        env = dict(os.environ, KIN_DATA=os.path.join(work, "kin-data"))

        # kin: create, import, search (one process for all queries; start-up included).
        vpath, ppath, qpath = (os.path.join(work, f) for f in ("v.npy", "p.jsonl", "q.npy"))
        write_npy(vpath, base)
        write_npy(qpath, queries)
        with open(ppath, "w") as f:
            for i in range(args.n):
                f.write(json.dumps({"n": i}) + "\n")
        kin = [args.kin, "--backend", url]
        c = MilvusClient(uri=f"http://127.0.0.1:{port}")

        def kin_side(name):
            """kin: create, import, search (one process for all queries; start-up included)."""
            subprocess.run(kin + ["collection", "create", name, "--dim", str(args.dim), "--metric", "cosine"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            t = time.perf_counter()
            subprocess.run(kin + ["import", name, "--vectors", vpath, "--payloads", ppath],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            ingest = time.perf_counter() - t
            t = time.perf_counter()
            out = subprocess.run(kin + ["search", name, "--vector-file", qpath, "-k", "10", "--json"],
                                 env=env, check=True, capture_output=True).stdout
            search = time.perf_counter() - t
            return ingest, search, [[h["id"] for h in hits] for hits in json.loads(out)]

        def py_side(name):
            """pymilvus: the same schema, index and batches."""
            schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=args.dim)
            schema.add_field("payload", DataType.JSON)
            index = c.prepare_index_params()
            index.add_index("vector", index_type="HNSW", metric_type="COSINE",
                            params={"M": 16, "efConstruction": 200})
            c.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
            t = time.perf_counter()
            for s in range(0, args.n, 10000):
                rows = [{"id": str(i), "vector": base[i].tolist(), "payload": {"n": i}}
                        for i in range(s, min(args.n, s + 10000))]
                c.upsert(name, rows)
            ingest = time.perf_counter() - t
            c.load_collection(name)
            t = time.perf_counter()
            hits = []
            for q in queries:
                r = c.search(name, data=[q.tolist()], limit=10, consistency_level="Strong",
                             search_params={"params": {"ef": 64}})
                hits.append([int(h["id"]) for h in r[0]])
            return ingest, time.perf_counter() - t, hits

        runs = {"kin": [], "py": []}
        for rep in range(args.reps):
            order = [("kin", kin_side), ("py", py_side)]
            for side, fn in (order if rep % 2 == 0 else order[::-1]):
                runs[side].append(fn(f"{side}_{rep}"))
        med = lambda side, i: float(np.median([r[i] for r in runs[side]]))
        kin_ingest, kin_search, kin_hits = med("kin", 0), med("kin", 1), runs["kin"][-1][2]
        py_ingest, py_search, py_hits = med("py", 0), med("py", 1), runs["py"][-1][2]

        exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]

        def recall(hits):
            return float(np.mean([len(set(h) & set(e.tolist())) / 10 for h, e in zip(hits, exact)]))

        print(f"{args.n} vectors of {args.dim} dimensions, {args.queries} queries, one Milvus Lite server, "
              f"median of {args.reps} runs (sides alternating first)")
        print("| measure | kin (--backend milvus://) | pymilvus | kin / pymilvus |")
        print("|---|---:|---:|---:|")
        print(f"| ingest (upserts of 10,000) | {args.n / kin_ingest:,.0f} rows/s | {args.n / py_ingest:,.0f} rows/s "
              f"| {py_ingest / kin_ingest:.2f}x |")
        print(f"| search, one query at a time, k=10 | {args.queries / kin_search:,.2f} q/s "
              f"| {args.queries / py_search:,.2f} q/s | {py_search / kin_search:.2f}x |")
        print(f"| recall@10 | {recall(kin_hits):.3f} | {recall(py_hits):.3f} | |")
        print("kin's times include its process start and connection; pymilvus's do not.")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
