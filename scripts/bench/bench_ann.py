#!/usr/bin/env python3
"""Approximate nearest neighbour search: kin's HNSW against hnswlib, faiss (HNSW) and usearch.

Same vectors, same queries, same graph parameters (M, ef_construction), one run, one machine.
Reports build time (all threads) and, for 1 and 2 search threads, recall@10 against exact
search and queries per second over a range of ef. kin runs twice: walking exact f32 distances
(`kin`), and walking int8 codes with the results re-ranked exactly (`kin-sq8`).

kin runs through its index directly (the `ann_bench` example, timed around the search call as the
peers are) and, with `--cli`, also through the `kin` command line as a user runs it
(`kin-cli`, `kin-cli-sq8`): `kin collection create`, then `kin import` of the base vectors (the
build: the whole command, log and persisted index included), then one
`kin search --vector-file queries.npy --ef EF --output ids.npy` per setting, timed whole
(process start, opening the persisted index, the search, writing the ids), with
`RAYON_NUM_THREADS` giving its threads. The `kin-cli … net` rows take away what a one-query
`kin search` of the same setting costs (the process, opening the collection, reading and writing
the files), leaving the command line's rate of searching: (queries − 1) ÷ (time − one query's time).

The whole comparison runs `--rounds` times (3 by default), every engine building and searching
in turn within a round, so that a slow spell of a shared machine falls on all engines alike
rather than on the one that happened to run then. Each table cell is the median over the rounds;
a ratio to a peer is taken within each round and shown as the median with its range.

    pip install numpy hnswlib faiss-cpu usearch
    cargo build --release -p kin -p kin-index --example ann_bench
    kin embed --model all-MiniLM-L6-v2 --input sentences.txt --output minilm.npy
    python scripts/bench/bench_ann.py --vectors minilm.npy --queries 1000 --cli
"""

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np


def exact_topk(base, queries, k):
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), 256):
        sims = queries[i:i + 256] @ base.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[i:i + 256] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found, truth, k):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


REPEAT = 1
SAID = set()


def say_once(line):
    """Prints `line` the first time it comes (each round says the same CPU and kernels)."""
    if line not in SAID:
        SAID.add(line)
        print(line)


def timed(fn, repeat=None):
    """The result of `fn` and the fastest of `repeat` runs (`--repeat`), in seconds."""
    best = float("inf")
    for _ in range(repeat or REPEAT):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def bench_hnswlib(base, queries, truth, args):
    import hnswlib
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=args.m, ef_construction=args.ef_construction, random_seed=1)
    _, build = timed(lambda: index.add_items(base, np.arange(len(base)), num_threads=max(args.threads)), 1)
    rows = []
    for th in args.threads:
        for ef in args.efs:
            index.set_ef(max(ef, args.k))
            (labels, _), secs = timed(lambda: index.knn_query(queries, k=args.k, num_threads=th))
            rows.append(dict(threads=th, ef=ef, recall=recall(labels, truth, args.k), qps=len(queries) / secs))
    return build, rows


def bench_faiss(base, queries, truth, args):
    import faiss
    index = faiss.IndexHNSWFlat(base.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction
    faiss.omp_set_num_threads(max(args.threads))
    _, build = timed(lambda: index.add(base), 1)
    rows = []
    for th in args.threads:
        faiss.omp_set_num_threads(th)
        for ef in args.efs:
            index.hnsw.efSearch = max(ef, args.k)
            (_, labels), secs = timed(lambda: index.search(queries, args.k))
            rows.append(dict(threads=th, ef=ef, recall=recall(labels, truth, args.k), qps=len(queries) / secs))
    return build, rows


def bench_usearch(base, queries, truth, args):
    from usearch.index import Index
    index = Index(ndim=base.shape[1], metric="ip", dtype="f32", connectivity=args.m,
                  expansion_add=args.ef_construction)
    _, build = timed(lambda: index.add(np.arange(len(base)), base, threads=max(args.threads)), 1)
    rows = []
    for th in args.threads:
        for ef in args.efs:
            index.expansion_search = max(ef, args.k)
            res, secs = timed(lambda: index.search(queries, args.k, threads=th))
            rows.append(dict(threads=th, ef=ef, recall=recall(res.keys, truth, args.k), qps=len(queries) / secs))
    return build, rows


def bench_kin(base, queries, truth, args, tmp, walk="f32"):
    """kin's HNSW walking exact f32 distances, or int8 codes re-ranked exactly (`walk="int8"`)."""
    paths = [os.path.join(tmp, n) for n in ("base.npy", "queries.npy", "truth.npy")]
    if not os.path.exists(paths[0]):
        np.save(paths[0], base)
        np.save(paths[1], queries)
        np.save(paths[2], truth)
    cmd = [args.kin_bin, *paths, "cosine", str(args.m), str(args.ef_construction),
           ",".join(map(str, args.efs)), ",".join(map(str, args.threads)), walk, str(args.repeat)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    cpu = next((l for l in lines if "cpu" in l), {"cpu": "?", "kernels": "?"})
    say_once(f"# kin ({walk} walk): CPU {cpu['cpu']}, distance kernels {cpu['kernels']}")
    if walk == "f32":
        args.kin_filtered = [l for l in lines if "filter_percent" in l]
    build = next(l for l in lines if "build_s" in l)["build_s"]
    return build, [l for l in lines if "ef" in l]


def bench_kin_cli(base, queries, truth, args, tmp, walk="f32", round_no=0):
    """kin through its command line (see the module's text)."""
    base_path, query_path = os.path.join(tmp, "base.npy"), os.path.join(tmp, "queries.npy")
    if not os.path.exists(base_path):
        np.save(base_path, base)
        np.save(query_path, queries)
    data = os.path.join(tmp, f"kin-data-{walk}-{round_no}")
    env = dict(os.environ, KIN_DATA=data, KIN_OFFLINE="1")
    env.pop("KIN_BACKEND", None)

    def kin(*argv, threads=None):
        e = env if threads is None else dict(env, RAYON_NUM_THREADS=str(threads))
        subprocess.run([args.kin_cli, "-q", *argv], check=True, env=e, capture_output=True, text=True)

    kin("collection", "create", "bench", "--dim", str(base.shape[1]), "--metric", "cosine", "--m", str(args.m),
        "--ef-construction", str(args.ef_construction), "--quantize", "int8" if walk == "int8" else "none")
    _, build = timed(lambda: kin("import", "bench", "--vectors", base_path), 1)
    version = subprocess.run([args.kin_cli, "version", "--verbose"], capture_output=True, text=True, env=env).stdout
    say_once(f"# kin CLI ({walk} walk): " + " | ".join(line.strip() for line in version.splitlines() if line.strip()))
    ids_path, one_path = os.path.join(tmp, "ids.npy"), os.path.join(tmp, "one-query.npy")
    np.save(one_path, queries[:1])
    rows = []
    for th in args.threads:
        for ef in args.efs:
            search = ["search", "bench", "--vector-file", query_path, "-k", str(args.k), "--ef", str(max(ef, args.k)),
                      "--output", ids_path]
            _, secs = timed(lambda: kin(*search, threads=th))
            found = np.load(ids_path)
            # What one query costs the same way: the process, opening the collection, the files.
            one = [*search[:3], one_path, *search[4:]]
            _, fixed = timed(lambda: kin(*one, threads=th))
            net = (len(queries) - 1) / (secs - fixed) if secs > fixed else None
            rows.append(dict(threads=th, ef=ef, recall=recall(found, truth, args.k), qps=len(queries) / secs,
                             net_qps=net))
    return build, rows


def qps_at(rows, threads, target):
    """Best QPS among settings reaching `target` recall (linear interpolation between ef steps)."""
    pts = sorted((r["recall"], r["qps"]) for r in rows if r["threads"] == threads and r["qps"])
    best = None
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1 and r1 > r0:
            q = q0 + (q1 - q0) * (target - r0) / (r1 - r0)
            best = max(best or 0, q)
    for r, q in pts:
        if r >= target:
            best = max(best or 0, q)
    return best


def median(values):
    v = sorted(x for x in values if x)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def merge_rounds(rounds):
    """One engine's rounds as one table: per setting, the mean recall and the median QPS."""
    rows = []
    for cells in zip(*(rows for _, rows in rounds)):
        rows.append(dict(threads=cells[0]["threads"], ef=cells[0]["ef"],
                         recall=float(np.mean([c["recall"] for c in cells])),
                         qps=median([c["qps"] for c in cells])))
    return median([b for b, _ in rounds]), rows


def ratio_text(ratios):
    """`1.42x` for one round; `1.42x (1.31-1.55)`, the median and the range, for several."""
    ratios = [r for r in ratios if r]
    if not ratios:
        return "n/a"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--queries", type=int, default=1000, help="last N rows are queries, the rest the base")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--efs", default="10,16,24,32,48,64,96,128,192,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3,
                    help="run each setting's queries this many times and keep the fastest")
    ap.add_argument("--rounds", type=int, default=3,
                    help="build and search with every engine in turn this many times; tables give medians")
    ap.add_argument("--kin-bin", default="target/release/examples/ann_bench")
    ap.add_argument("--cli", action="store_true", help="also run kin through its command line (kin-cli rows)")
    ap.add_argument("--kin-cli", default="target/release/kin", help="the kin binary for --cli")
    ap.add_argument("--skip", default="", help="comma list of engines to skip: kin-sq8,hnswlib,faiss,usearch")
    args = ap.parse_args()
    args.efs = [int(x) for x in args.efs.split(",")]
    args.threads = [int(x) for x in args.threads.split(",")]
    global REPEAT
    REPEAT = args.repeat

    data = np.load(args.vectors).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    base, queries = np.ascontiguousarray(data[:-args.queries]), np.ascontiguousarray(data[-args.queries:])
    truth = exact_topk(base, queries, args.k)
    print(f"# {args.vectors}: {len(base)} base vectors, {len(queries)} queries, dim {base.shape[1]}, "
          f"M={args.m}, ef_construction={args.ef_construction}, cosine; {args.rounds} rounds, "
          f"each setting's fastest of {args.repeat} runs per round")

    skip = args.skip.split(",")
    engines = {"kin": lambda tmp, r: bench_kin(base, queries, truth, args, tmp)}
    if "kin-sq8" not in skip:
        engines["kin-sq8"] = lambda tmp, r: bench_kin(base, queries, truth, args, tmp, walk="int8")
    if args.cli:
        engines["kin-cli"] = lambda tmp, r: bench_kin_cli(base, queries, truth, args, tmp, round_no=r)
        if "kin-sq8" not in skip:
            engines["kin-cli-sq8"] = lambda tmp, r: bench_kin_cli(base, queries, truth, args, tmp, "int8", r)
    peers = {"hnswlib": bench_hnswlib, "faiss": bench_faiss, "usearch": bench_usearch}
    for name, fn in peers.items():
        if name not in skip:
            engines[name] = lambda tmp, r, fn=fn: fn(base, queries, truth, args)

    # Engines take turns within each round, so that a slow spell of the machine falls on all of
    # them rather than on one.
    rounds = {name: [] for name in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, run in engines.items():
                rounds[name].append(run(tmp, r))
    with_net = {}
    for name, runs in rounds.items():
        with_net[name] = runs
        if name.startswith("kin-cli"):
            with_net[f"{name} net"] = [(b, [dict(r, qps=r["net_qps"]) for r in rows]) for b, rows in runs]
    rounds = with_net
    results = {name: merge_rounds(rs) for name, rs in rounds.items()}

    print("\n| engine | build (s) | threads | " + " | ".join(f"ef={e}" for e in args.efs) + " |")
    print("|---|---:|---:|" + "---:|" * len(args.efs))
    for name, (build, rows) in results.items():
        for th in args.threads:
            cells = [f"{r['recall']:.3f} / {r['qps'] or 0:.0f}" for r in rows if r["threads"] == th]
            print(f"| {name} | {build:.1f} | {th} | " + " | ".join(cells) + " |")
    print("\ncells: mean recall@10 / median queries per second over the rounds\n")
    print("QPS at a recall is read off each round's curve (linear between ef steps); the ratios are "
          "taken within a round, then their median (and range over the rounds) is shown.\n")
    print("| engine | threads | QPS @ recall 0.95 | QPS @ recall 0.99 | vs hnswlib @ 0.95 | vs hnswlib @ 0.99 "
          "| vs faiss @ 0.95 | vs faiss @ 0.99 | build vs hnswlib |")
    print("|---|---:|---:|---:|---|---|---|---|---:|")
    f = lambda v: f"{v:.0f}" if v else "n/a"
    for name, runs in rounds.items():
        for th in args.threads:
            q = {t: [qps_at(rows, th, t) for _, rows in runs] for t in (0.95, 0.99)}
            cells = []
            for peer in ("hnswlib", "faiss"):
                for t in (0.95, 0.99):
                    p = rounds.get(peer)
                    cells.append(ratio_text([a / b if a and b else None
                                             for a, b in zip(q[t], (qps_at(rows, th, t) for _, rows in p))])
                                 if p else "")
            hb = rounds.get("hnswlib")
            build = ratio_text([b / hb_b for (b, _), (hb_b, _) in zip(runs, hb)]) if hb else ""
            print(f"| {name} | {th} | {f(median(q[0.95]))} | {f(median(q[0.99]))} | " + " | ".join(cells)
                  + f" | {build} |")
    print("\nkin, filtered search (ef=64, 1 thread), against exact filtered search (last round):\n")
    print("| filter keeps | matching items | recall@10 | queries with 10 results | QPS |")
    print("|---:|---:|---:|---:|---:|")
    for r in getattr(args, "kin_filtered", []):
        print(f"| {r['filter_percent']} % | {r['matching']} | {r['recall']:.4f} | {r['full_k'] * 100:.1f} % | {r['qps']:.0f} |")


if __name__ == "__main__":
    main()
