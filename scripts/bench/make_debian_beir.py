#!/usr/bin/env python3
"""A retrieval set in the BEIR layout from Debian's package descriptions (real English text).

Corpus: one document per package, title = the package name, text = its long description.
Queries: the one-line synopsis of a sample of those packages; the package itself is the one
relevant document. Packages whose long description or synopsis is not unique are left out, so
each query has one right answer. Needs the English translations of the package lists:

    sudo apt-get update -o Acquire::Languages=en
    python scripts/bench/make_debian_beir.py --out debian-beir --docs 10000 --queries 500
    kin collection create deb --model all-MiniLM-L6-v2
    kin add deb debian-beir/corpus.jsonl
    kin eval deb --queries debian-beir/queries.jsonl --qrels debian-beir/qrels/test.tsv --mode hybrid
"""

import argparse
import collections
import glob
import json
import os
import random
import subprocess


def read_translations():
    """(package, synopsis, long description) from every Translation-en list apt holds."""
    out = {}
    for path in glob.glob("/var/lib/apt/lists/*Translation-en*"):
        # apt keeps its lists compressed (lz4, xz, ...); apt-helper reads any of them.
        raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True, capture_output=True).stdout
        pkg, synopsis, lines = None, None, []
        for line in raw.decode("utf-8", errors="replace").splitlines(keepends=True) + ["\n"]:
            if line.startswith("Package: "):
                pkg = line.split(":", 1)[1].strip()
            elif line.startswith("Description-en: "):
                synopsis, lines = line.split(":", 1)[1].strip(), []
            elif line.startswith(" ") and synopsis is not None:
                text = line.strip()
                lines.append("" if text == "." else text)
            elif not line.strip():
                if pkg and synopsis and lines:
                    body = "\n".join(lines).strip()
                    out[pkg] = (synopsis, " ".join(p.replace("\n", " ") for p in body.split("\n\n")))
                pkg, synopsis, lines = None, None, []
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    packages = read_translations()
    if not packages:
        raise SystemExit("no Translation-en lists: run `apt-get update -o Acquire::Languages=en` first")
    texts = collections.Counter(t for _, t in packages.values())
    synopses = collections.Counter(s.lower() for s, _ in packages.values())
    unique = sorted(p for p, (s, t) in packages.items()
                    if texts[t] == 1 and synopses[s.lower()] == 1 and len(t.split()) >= 12)
    rng = random.Random(args.seed)
    docs = rng.sample(unique, min(args.docs, len(unique)))
    queries = rng.sample(docs, min(args.queries, len(docs)))
    os.makedirs(os.path.join(args.out, "qrels"), exist_ok=True)
    with open(os.path.join(args.out, "corpus.jsonl"), "w") as f:
        for p in docs:
            f.write(json.dumps({"_id": p, "title": p, "text": packages[p][1]}) + "\n")
    with open(os.path.join(args.out, "queries.jsonl"), "w") as f:
        for i, p in enumerate(queries):
            f.write(json.dumps({"_id": f"q{i}", "text": packages[p][0]}) + "\n")
    with open(os.path.join(args.out, "qrels", "test.tsv"), "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for i, p in enumerate(queries):
            f.write(f"q{i}\t{p}\t1\n")
    print(f"{len(packages)} packages, {len(unique)} usable; wrote {len(docs)} documents and {len(queries)} queries to {args.out}")


if __name__ == "__main__":
    main()
