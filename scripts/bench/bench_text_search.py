#!/usr/bin/env python3
"""Full-text search speed: kin's BM25 index against tantivy (its Python package), in one run.

Same corpus (BEIR `corpus.jsonl`: title and text), same queries, top 10, OR of the query's terms,
an English stemmer on both sides. Reports indexing throughput (one thread each), text-search QPS
(1 and 2 threads for kin; tantivy's searcher from Python on 1), and kin's hybrid QPS against its
dense QPS on the same collection.

    pip install tantivy
    cargo build --release -p kin-store --example text_bench
    python scripts/bench/bench_text_search.py --corpus corpus.jsonl --queries queries.jsonl
"""

import argparse
import json
import math
import os
import re
import subprocess
import tempfile
import time


def bench_tantivy(docs, queries, k, qrels=None):
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("text", stored=False, tokenizer_name="en_stem")
    schema = sb.build()
    with tempfile.TemporaryDirectory() as d:
        index = tantivy.Index(schema, path=d)
        t = time.perf_counter()
        writer = index.writer(heap_size=256 << 20, num_threads=1)
        for doc in docs:
            writer.add_document(tantivy.Document(id=doc["_id"], title=doc.get("title", ""), text=doc.get("text", "")))
        writer.commit()
        writer.wait_merging_threads()
        index_secs = time.perf_counter() - t
        index.reload()
        searcher = index.searcher()
        # Free text as kin takes it: the query parser's operators and quotes become spaces.
        parsed = [index.parse_query(re.sub(r"[^\w]+", " ", q).strip() or "x", ["title", "text"]) for q in queries]
        t = time.perf_counter()
        for q in parsed:
            searcher.search(q, k).hits
        qps = len(parsed) / (time.perf_counter() - t)
        ndcg = None
        if qrels is not None:
            # nDCG@10 of tantivy's BM25 ranking on the same queries, as a reference for kin eval's.
            scores = []
            for (qid, _), q in zip(queries_with_ids(args_queries), parsed):
                judged = qrels.get(qid)
                if judged is None:
                    continue
                ranked = [searcher.doc(a)["id"][0] for _, a in searcher.search(q, 10).hits]
                dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked))
                ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(judged.values(), reverse=True)[:10]))
                scores.append(dcg / ideal if ideal else 0.0)
            ndcg = sum(scores) / len(scores)
    return dict(index_seconds=index_secs, index_docs_per_second=len(docs) / index_secs, text_qps_1=qps, ndcg10=ndcg)


def queries_with_ids(path):
    return [(q["_id"], q["text"]) for q in map(json.loads, open(path))]


def read_qrels(path):
    qrels = {}
    for n, line in enumerate(open(path)):
        parts = line.split()
        if n == 0 and not parts[-1].isdigit():
            continue
        qrels.setdefault(parts[0], {})[parts[-2]] = int(parts[-1])
    return qrels


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--qrels", help="also report tantivy's nDCG@10 (compare with `kin eval --mode text`)")
    ap.add_argument("--kin-bench", default="target/release/examples/text_bench")
    args = ap.parse_args()
    docs = [json.loads(l) for l in open(args.corpus)]
    queries = [json.loads(l)["text"] for l in open(args.queries)]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} threads; {len(docs)} documents, {len(queries)} queries, top {args.k}")

    kin = json.loads(subprocess.run([args.kin_bench, args.corpus, args.queries], check=True,
                                    capture_output=True, text=True).stdout)
    global args_queries
    args_queries = args.queries
    tan = bench_tantivy(docs, queries, args.k, read_qrels(args.qrels) if args.qrels else None)
    print()
    print("| | kin | tantivy | kin / tantivy |")
    print("|---|---:|---:|---:|")
    print(f"| indexing, documents/s (1 thread) | {kin['index_docs_per_second']:,.0f} | "
          f"{tan['index_docs_per_second']:,.0f} | {kin['index_docs_per_second'] / tan['index_docs_per_second']:.2f}x |")
    print(f"| text search QPS, 1 thread | {kin['text_qps_1']:,.0f} | {tan['text_qps_1']:,.0f} | "
          f"{kin['text_qps_1'] / tan['text_qps_1']:.2f}x |")
    print(f"| text search QPS, 2 threads | {kin['text_qps_2']:,.0f} | | |")
    print()
    print("kin, one collection (random 384-d vectors beside the text), 1 thread:")
    print(f"  dense QPS {kin['dense_qps_1']:,.0f}, text QPS {kin['collection_text_qps_1']:,.0f}, "
          f"hybrid QPS {kin['hybrid_qps_1']:,.0f} ({kin['hybrid_qps_1'] / kin['dense_qps_1']:.2f}x dense)")
    print(f"  text index memory: {kin['index_memory_bytes'] / 2**20:.1f} MiB")
    if tan["ndcg10"] is not None:
        print(f"tantivy BM25 nDCG@10 on these queries: {tan['ndcg10']:.5f}")
    print(json.dumps(dict(kin=kin, tantivy=tan)))


if __name__ == "__main__":
    main()
