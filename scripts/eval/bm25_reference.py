#!/usr/bin/env python3
"""kin's BM25 beside the BM25 that BEIR's published figures come from, on the same BEIR data.

BEIR's BM25 baseline is Elasticsearch: the `english` analyzer on title and text, and a
`multi_match` query (`best_fields`, tie_breaker 0.5), k1 1.2, b 0.75. Elasticsearch is Lucene;
`LuceneBm25.java` runs that same analysis and query on Lucene 8 (Debian's `liblucene8-java`), so
the comparison needs no server and no download.

    apt-get install liblucene8-java default-jdk-headless
    kin eval NAME --mode text --queries queries.jsonl --qrels qrels/test.tsv --output kin.run
    python scripts/eval/bm25_reference.py --corpus corpus.jsonl --queries queries.jsonl \\
        --qrels qrels/test.tsv --kin-run kin.run

Prints nDCG@10 of both runs (as BEIR scores it with trec_eval: gains as graded, log2 discount,
hits by score with ties by document id descending), how many queries have the same top 10, and the largest score difference among the
documents both runs return. `--fixtures DIR` also writes the fixtures kin's tests hold its text
index to (crates/kin-store/tests/fixtures/lucene/): `english.tsv`, words of the corpus and
Lucene's terms for them; `norms.tsv`, the field lengths BM25 reads back from Lucene's one-byte
norms; `corpus.jsonl`, `queries.jsonl` and `bm25.run`, a few documents and queries of the corpus
and Lucene's top 10 for each, with its scores.
"""

import argparse
import glob
import json
import math
import os
import random
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def classpath():
    jars = [j for name in ("core", "analyzers-common") for j in glob.glob(f"/usr/share/java/lucene-{name}-8*.jar")]
    if len(jars) < 2:
        raise SystemExit("Lucene 8 is missing: apt-get install liblucene8-java")
    return ":".join(sorted(jars))


def lucene(*args):
    subprocess.run(["java", "-cp", classpath(), os.path.join(HERE, "LuceneBm25.java"), *args], check=True)


def escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.split()
            if n == 0 and parts and parts[0] == "query-id":
                continue
            if len(parts) == 3:
                q, d, s = parts
            elif len(parts) == 4:
                q, _, d, s = parts
            else:
                continue
            qrels.setdefault(q, {})[d] = int(s)
    return qrels


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            q, _, d, _, score, *_ = line.split()
            run.setdefault(q, {})[d] = float(score)
    return run


def trec_order(ranking):
    """Hits as trec_eval orders them: score descending, ties by document id descending."""
    return sorted(ranking.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)


def ndcg10(qrels, run):
    """Mean nDCG@10 over the queries with relevance judgements, as BEIR (pytrec_eval) scores it."""
    total = 0.0
    for q, rel in qrels.items():
        ranked = trec_order(run.get(q, {}))[:10]
        dcg = sum(max(rel.get(d, 0), 0) / math.log2(i + 2) for i, (d, _) in enumerate(ranked))
        ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg > 0 else 0.0
    return total / max(len(qrels), 1)


def top10(ranking):
    return [d for d, _ in trec_order(ranking)[:10]]


def write_tsv(docs, queries, corpus_tsv, queries_tsv):
    with open(corpus_tsv, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(f"{escape(str(d['_id']))}\t{escape(d.get('title') or '')}\t{escape(d.get('text') or '')}\n")
    with open(queries_tsv, "w", encoding="utf-8") as f:
        for q in queries:
            f.write(f"{escape(str(q['_id']))}\t{escape(q['text'])}\n")


def write_fixtures(docs, queries, out_dir, tmp):
    os.makedirs(out_dir, exist_ok=True)
    words = sorted({w for d in docs for w in re.findall(r"[A-Za-z][A-Za-z']{2,}", d.get("title", "") + " " + d.get("text", ""))})
    random.Random(7).shuffle(words)
    sample = sorted(words[:2000])
    words_path = os.path.join(tmp, "words.txt")
    with open(words_path, "w", encoding="utf-8") as f:
        f.write("\n".join(sample) + "\n")
    lucene("stem", words_path, os.path.join(out_dir, "english.tsv"))
    lucene("norms", "1500", os.path.join(out_dir, "norms.tsv"))
    # A small corpus: 70 documents (short and longer ones, so that lengths past the exact norms
    # are scored), and 25 queries.
    few = sorted(docs[:400], key=lambda d: len(d.get("text") or ""))
    few = few[:40] + few[300:330]
    few_queries = queries[:25]
    with open(os.path.join(out_dir, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for d in few:
            f.write(json.dumps({"_id": d["_id"], "title": d.get("title") or "", "text": d.get("text") or ""}) + "\n")
    with open(os.path.join(out_dir, "queries.jsonl"), "w", encoding="utf-8") as f:
        for q in few_queries:
            f.write(json.dumps({"_id": q["_id"], "text": q["text"]}) + "\n")
    corpus_tsv, queries_tsv = os.path.join(tmp, "few.tsv"), os.path.join(tmp, "few-queries.tsv")
    write_tsv(few, few_queries, corpus_tsv, queries_tsv)
    lucene("run", corpus_tsv, queries_tsv, os.path.join(out_dir, "bm25.run"), "10")
    print(f"wrote {len(sample)} words, the norms table and {len(few)} documents with Lucene's run to {out_dir}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--qrels")
    ap.add_argument("--kin-run", help="kin's run on the same queries (`kin eval … --mode text --output`)")
    ap.add_argument("--lucene-run", help="where to keep Lucene's run (default: a temporary file)")
    ap.add_argument("--fixtures", help="also write the analyzer fixtures into this folder")
    args = ap.parse_args()

    docs = read_jsonl(args.corpus)
    queries = read_jsonl(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        if args.fixtures:
            write_fixtures(docs, queries, args.fixtures, tmp)
        corpus_tsv, queries_tsv = os.path.join(tmp, "corpus.tsv"), os.path.join(tmp, "queries.tsv")
        write_tsv(docs, queries, corpus_tsv, queries_tsv)
        lucene_path = args.lucene_run or os.path.join(tmp, "lucene.run")
        lucene("run", corpus_tsv, queries_tsv, lucene_path, "100")
        lucene_run = read_run(lucene_path)

    print(f"{len(docs)} documents, {len(queries)} queries")
    if args.qrels:
        qrels = read_qrels(args.qrels)
        print(f"Lucene BM25 (Elasticsearch's english analyzer, best_fields 0.5): nDCG@10 {ndcg10(qrels, lucene_run):.4f}")
    if not args.kin_run:
        return
    kin_run = read_run(args.kin_run)
    if args.qrels:
        print(f"kin --mode text: nDCG@10 {ndcg10(qrels, kin_run):.4f}")
    same, worst, compared = 0, 0.0, 0
    for q in (str(q["_id"]) for q in queries):
        a, b = lucene_run.get(q, {}), kin_run.get(q, {})
        same += top10(a) == top10(b)
        for d in set(top10(a)) & set(b):
            compared += 1
            worst = max(worst, abs(a[d] - b[d]) / max(abs(a[d]), 1e-9))
    print(f"same top 10: {same} of {len(queries)} queries; largest relative score difference "
          f"over {compared} shared documents: {worst:.2e}")


if __name__ == "__main__":
    main()
