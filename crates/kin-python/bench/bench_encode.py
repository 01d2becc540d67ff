"""``encode`` throughput: kin.SentenceTransformer against sentence-transformers, in one process, on
the same corpus, batch size and threads; tokens per second, the ratio, and the smallest cosine
between the two sets of vectors.

    python3 scripts/bench/make_corpus.py --out corpus.txt --n 1200
    pip install torch sentence-transformers   # the peer; kin's wheel installed beside it
    python3 crates/kin-python/bench/bench_encode.py --corpus corpus.txt \\
        --model-dir ~/.cache/kin/models/all-MiniLM-L6-v2 [--threads 2] [--batch-size 32] [--runs 3]

Both load the same local folder. Threads: torch.set_num_threads(T) and RAYON_NUM_THREADS=T (set
before kin computes). Tokens are counted once with the model's tokenizer, truncated at its
max_seq_length, so both rates use the same count. Each side runs once untimed, then --runs
times; the best run counts.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_of(runs: int, fn):
    fn()
    best, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import sentence_transformers
    import torch

    import kin

    with open(args.corpus, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    torch.set_num_threads(args.threads)
    peer = sentence_transformers.SentenceTransformer(os.path.expanduser(args.model_dir), device="cpu")
    ours = kin.SentenceTransformer(os.path.expanduser(args.model_dir))
    limit = peer.max_seq_length
    tokens = sum(min(len(ids), limit) for ids in peer.tokenizer(texts, add_special_tokens=True)["input_ids"])

    print(f"# CPU {cpu_model()}, {args.threads} threads, kin {kin.__version__} ({kin.threads()} threads), "
          f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}")
    print(f"# {len(texts)} texts, {tokens} tokens, batch_size {args.batch_size}, best of {args.runs}")
    peer_s, peer_v = best_of(args.runs, lambda: peer.encode(texts, batch_size=args.batch_size))
    kin_s, kin_v = best_of(args.runs, lambda: ours.encode(texts, batch_size=args.batch_size))
    a, b = peer_v.astype(np.float64), kin_v.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    print("\n| engine | seconds | texts/s | tokens/s | vs sentence-transformers |")
    print("|---|---:|---:|---:|---:|")
    for name, secs in (("sentence-transformers", peer_s), ("kin", kin_s)):
        print(f"| {name} | {secs:.2f} | {len(texts) / secs:.1f} | {tokens / secs:.0f} | {peer_s / secs:.2f}x |")
    print(f"\nsmallest cosine between the two sets of vectors: {cos.min():.7f}; "
          f"shapes {peer_v.shape} / {kin_v.shape}, dtypes {peer_v.dtype} / {kin_v.dtype}")


if __name__ == "__main__":
    main()
