"""Insert and search through kin.MilvusClient and through pymilvus on Milvus Lite, in one run,
on the same vectors and queries; times, throughputs, recall@10 against exact search, and the
ratios. Usage: python3 bench_milvus_client.py [--n 20000] [--dim 384] [--queries 500]"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def run(client, vectors, queries, batch, limit):
    if client.has_collection("bench"):
        client.drop_collection("bench")
    client.create_collection("bench", dimension=vectors.shape[1])
    start = time.perf_counter()
    for i in range(0, len(vectors), batch):
        client.insert("bench", [{"id": int(j), "vector": vectors[j].tolist(), "n": int(j)}
                                for j in range(i, min(i + batch, len(vectors)))])
    insert_s = time.perf_counter() - start
    client.search("bench", data=[queries[0].tolist()], limit=limit, output_fields=["n"])  # warm up
    start = time.perf_counter()
    found = []
    for q in queries:
        hits = client.search("bench", data=[q.tolist()], limit=limit, output_fields=["n"])
        found.append([h["id"] for h in hits[0]])
    search_s = time.perf_counter() - start
    start = time.perf_counter()
    client.search("bench", data=[q.tolist() for q in queries], limit=limit, output_fields=["n"])
    batch_s = time.perf_counter() - start
    return insert_s, search_s, found, batch_s


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    # Clustered, as embeddings are (uniform random points in 384 dimensions have no near
    # neighbours for any index to find).
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(args.n // 100, args.dim))
    vectors = (centres[rng.integers(len(centres), size=args.n)]
               + rng.normal(scale=0.5, size=(args.n, args.dim))).astype(np.float32)
    queries = (vectors[rng.choice(args.n, args.queries, replace=False)]
               + rng.normal(scale=0.3, size=(args.queries, args.dim))).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / norms
    truth = np.argsort(-(queries @ unit.T), axis=1)[:, :10]

    import kin
    from pymilvus import MilvusClient

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["kin"] = run(kin.MilvusClient(f"{tmp}/kin.db"), vectors, queries, args.batch, 10)
        results["milvus-lite"] = run(MilvusClient(f"{tmp}/milvus.db"), vectors, queries, args.batch, 10)
    print(f"# CPU {cpu_model()}, kin {kin.__version__} on {kin.threads()} threads")
    print(f"{args.n} vectors of {args.dim} dimensions, {args.queries} queries one at a time, top 10, COSINE")
    for name, (insert_s, search_s, found, batch_s) in results.items():
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth.tolist())])
        print(f"{name:12s} insert {args.n / insert_s:9.0f} rows/s   search {args.queries / search_s:8.0f} queries/s"
              f" one at a time, {args.queries / batch_s:8.0f} queries/s in one call   recall@10 {recall:.3f}")
    k, m = results["kin"], results["milvus-lite"]
    print(f"kin / milvus-lite: insert {m[0] / k[0]:.2f}x, search {m[1] / k[1]:.2f}x one at a time, "
          f"{m[3] / k[3]:.2f}x in one call")


if __name__ == "__main__":
    main()
