"""``encode`` throughput: kin.SentenceTransformer against sentence-transformers and fastembed, in one
process, on the same corpus, batch size and threads; tokens per second, the ratios, and the
smallest cosine between each peer's vectors and kin's.

    python3 scripts/bench/make_corpus.py --out corpus.txt --n 1200
    pip install torch sentence-transformers fastembed onnx   # the peers; kin's wheel beside them
    python3 crates/kin-python/bench/bench_encode.py --corpus corpus.txt \\
        --model-dir ~/.cache/kin/models/all-MiniLM-L6-v2 [--threads 2] [--batch-size 32] [--runs 3]

sentence-transformers and kin load the same local folder. fastembed fetches its ONNX files from
the Hugging Face Hub; where that is out of reach, the same checkpoint is exported to ONNX here
(``scripts/bench/bench_text.py``'s exporter) into ``--onnx-dir`` and given to fastembed as a
custom model (mean pooling, normalised) with ``specific_model_path``; ``--no-fastembed`` skips it. Threads: torch.set_num_threads(T) and RAYON_NUM_THREADS=T (set
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
    parser.add_argument("--onnx-dir", default="/tmp/kin-bench-onnx")
    parser.add_argument("--no-fastembed", action="store_true")
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
    timed = {"sentence-transformers": best_of(args.runs, lambda: peer.encode(texts, batch_size=args.batch_size))}
    if not args.no_fastembed:
        fe = fastembed_model(args.model_dir, args.onnx_dir, peer.get_sentence_embedding_dimension(), limit,
                             args.threads)
        timed["fastembed"] = best_of(args.runs, lambda: np.stack(list(fe.embed(texts, batch_size=args.batch_size))))
    timed["kin"] = best_of(args.runs, lambda: ours.encode(texts, batch_size=args.batch_size))
    kin_v = timed["kin"][1].astype(np.float64)

    print("\n| engine | seconds | texts/s | tokens/s | kin is faster by | smallest cosine to kin |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (secs, vectors) in timed.items():
        a = vectors.astype(np.float64)
        cos = ((a * kin_v).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(kin_v, axis=1))).min()
        print(f"| {name} | {secs:.2f} | {len(texts) / secs:.1f} | {tokens / secs:.0f} | "
              f"{secs / timed['kin'][0]:.2f}x | {cos:.7f} |")
    shapes = ", ".join(f"{n} {v.shape} {v.dtype}" for n, (_, v) in timed.items())
    print(f"\nshapes and dtypes: {shapes}")


def fastembed_model(model_dir: str, onnx_dir: str, dim: int, max_length: int, threads: int):
    """fastembed's TextEmbedding over the checkpoint in ``model_dir``, exported to ONNX once, its
    inputs cut at ``max_length`` tokens as sentence-transformers cuts them."""
    import json
    import shutil
    import sys
    from pathlib import Path

    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    model_dir, out = os.path.expanduser(model_dir), Path(onnx_dir)
    if not (out / "model.onnx").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts" / "bench"))
        from bench_text import export_onnx

        export_onnx(model_dir, out / "model.onnx", 17)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "vocab.txt"):
            if (Path(model_dir) / name).exists():
                shutil.copy(Path(model_dir) / name, out / name)
    # fastembed cuts at the tokenizer's model_max_length (512 here); the model card says 256.
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    config["model_max_length"] = max_length
    config_path.write_text(json.dumps(config), encoding="utf-8")
    name = "kin-bench/" + Path(model_dir).name
    TextEmbedding.add_custom_model(model=name, pooling=PoolingType.MEAN, normalization=True,
                                   sources=ModelSource(hf="sentence-transformers/" + Path(model_dir).name), dim=dim,
                                   model_file="model.onnx")
    return TextEmbedding(model_name=name, specific_model_path=str(out), threads=threads)


if __name__ == "__main__":
    main()
