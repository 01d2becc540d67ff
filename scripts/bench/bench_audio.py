#!/usr/bin/env python3
"""Whisper encoder speed: kin against transformers on CPU, in one run.

Audio seconds embedded per wall-clock second, the encoder alone on 30-second log-mel windows
(kin's `whisper_speed` example against `WhisperModel.encoder` under `torch.inference_mode()`,
the same number of windows, float32 weights on both sides), best of --runs.

Usage:
  python bench_audio.py --whisper-speed target/release/examples/whisper_speed --model DIR [--windows 4]
where DIR is a Hugging Face Whisper folder (`kin models pull whisper-base` converts one into
$KIN_HOME/models/whisper-base).
"""

import argparse
import os
import subprocess
import time

import numpy as np
import torch
from transformers import WhisperModel


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--whisper-speed", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = WhisperModel.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    frames = model.config.max_source_positions * 2
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (args.windows, model.config.num_mel_bins, frames)).astype(np.float32))
    with torch.inference_mode():
        model.encoder(x[:1])
        best = float("inf")
        for _ in range(args.runs):
            t = time.perf_counter()
            model.encoder(x)
            best = min(best, time.perf_counter() - t)
    ref = args.windows * 30.0 / best
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.whisper_speed, args.model, str(args.windows), str(args.runs)], env=env, check=True,
                         capture_output=True, text=True).stdout
    kin = float(out.split("audio_seconds_per_second=")[1].split()[0])
    print(f"\n{args.windows} windows of 30 s, {args.threads} threads, best of {args.runs}\n")
    print("| encoder | transformers audio s/s | kin audio s/s | kin / transformers |")
    print("|---|---:|---:|---:|")
    print(f"| {model.config.d_model}-d Whisper ({args.model}) | {ref:.1f} | {kin:.1f} | {kin / ref:.2f}× |")


if __name__ == "__main__":
    main()
