#!/usr/bin/env python3
"""Golden files for kin's Whisper encoder, made with transformers' WhisperModel.

1. A small randomly initialised Whisper (the real layout: tensor names, config.json), committed:

       crates/kin-embed/tests/golden/whisper/tiny-random/
           config.json, model.safetensors (f16)
           golden.json    the pooled embeddings for several audio lengths, and the hidden state

2. With --real DIR: the whisper-base checkpoint kin converted from CTranslate2
   (`kin models pull whisper-base`, then DIR = $KIN_HOME/models/whisper-base) loaded by
   transformers' WhisperModel, and its encoder's pooled embeddings written to
   crates/kin-embed/tests/golden/whisper/whisper-base.json (a few 512-d vectors), so the test can
   check kin's encoder on the real converted weights against transformers on the same weights.

The encoder input is a synthetic log-mel, `((m·31 + t·17) mod 97) / 48.5 − 1` for mel bin m and
frame t, computed in float32 exactly as the Rust test computes it; the log-mel features
themselves are checked against WhisperFeatureExtractor by kin-audio's own golden tests.

Pooling (kin's Whisper embedding): the encoder's last hidden state averaged over the first n
positions (those that hold audio), then normalised.

Usage: python make_whisper_golden.py [--real DIR]
"""

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/kin-embed/tests/golden/whisper"
AUDIO = ROOT / "crates/kin-audio/tests/golden/clips"
# Lossless 16 kHz clips, so kin and the reference see the same samples.
CLIPS = ["speech_a.flac", "speech_b.wav", "tones.wav"]


def synthetic_mel(n_mels, frames):
    m = np.arange(n_mels, dtype=np.int64)[:, None]
    t = np.arange(frames, dtype=np.int64)[None, :]
    return (((m * 31 + t * 17) % 97).astype(np.float32) / np.float32(48.5)) - np.float32(1.0)


def pooled(model, mel, lengths):
    with torch.inference_mode():
        hidden = model.encoder(torch.from_numpy(mel)[None]).last_hidden_state[0]
    out = {}
    for n in lengths:
        v = hidden[:n].mean(0)
        out[str(n)] = (v / v.norm()).tolist()
    return hidden, out


def tiny():
    torch.manual_seed(21)
    config = WhisperConfig(
        vocab_size=64, num_mel_bins=80, d_model=64, encoder_layers=2, encoder_attention_heads=4,
        encoder_ffn_dim=128, decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=128,
        max_source_positions=64, max_target_positions=32, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=3,
    )
    model = WhisperModel(config).eval()
    g = torch.Generator().manual_seed(22)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed_positions" not in name:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
            p.copy_(p.half().float())
    out = OUT / "tiny-random"
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.to_json_file(str(out / "config.json"))
    mel = synthetic_mel(80, 128)
    hidden, vectors = pooled(model, mel, [1, 17, 64])
    golden = {"frames": 128, "pooled": vectors, "hidden": hidden.flatten().tolist()}
    (out / "golden.json").write_text(json.dumps(golden) + "\n")
    print(f"{out}: {sum(f.stat().st_size for f in out.iterdir()) / 1024:.0f} KiB")


def clip_samples(path):
    """16 kHz mono float32 samples of a kin-audio fixture, decoded by ffmpeg."""
    out = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(out, dtype="<f4")


def real(folder):
    model = WhisperModel.from_pretrained(folder, torch_dtype=torch.float32).eval()
    frames = model.config.max_source_positions * 2
    mel = synthetic_mel(model.config.num_mel_bins, frames)
    _, vectors = pooled(model, mel, [1500, 700, 1])
    # End to end on real speech: WhisperFeatureExtractor, the encoder, the mean over the
    # positions holding audio (ceil(samples / 320)).
    fe = WhisperFeatureExtractor()
    clips = {}
    for name in CLIPS:
        x = clip_samples(AUDIO / name)
        features = fe(x, sampling_rate=16000, return_tensors="np").input_features[0]
        _, v = pooled(model, features, [max(1, -(-len(x) // 320))])
        clips[name] = next(iter(v.values()))
    path = OUT / "whisper-base.json"
    path.write_text(json.dumps({"frames": frames, "pooled": vectors, "clips": clips}) + "\n")
    print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", help="a whisper-base folder converted by `kin models pull whisper-base`")
    args = parser.parse_args()
    torch.set_num_threads(2)
    tiny()
    if args.real:
        real(args.real)


if __name__ == "__main__":
    main()
