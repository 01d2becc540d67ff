#!/usr/bin/env python3
"""Golden files for kin's Perceiver encoder, made with transformers' PerceiverForMultimodalAutoencoding.

DeepMind's multimodal Perceiver is not obtainable on kin's build machines, so the fixture is a
small randomly initialised model with the real layout (the same preprocessors: audio patches with
192-band Fourier positions, 4×4 space-to-depth video patches with 32-band Fourier positions, the
label modality replaced by its mask token, learned per-modality padding to a common width; the
same encoder: one cross-attention from the latents to the inputs, then self-attention layers).
Only the encoder's tensors are saved (kin does not run the decoders), as f16-representable values.

    crates/kin-embed/tests/golden/perceiver/
        config.json, model.safetensors
        video.f32, audio.f32       the inputs ([frames, 3, size, size] and [samples])
        golden.json                the mean of the final latents

Usage: python make_perceiver_golden.py
"""

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import PerceiverConfig, PerceiverForMultimodalAutoencoding

OUT = Path(__file__).resolve().parents[2] / "crates/kin-embed/tests/golden/perceiver"


def main():
    torch.manual_seed(31)
    config = PerceiverConfig(
        num_latents=16, d_latents=32, d_model=32, num_blocks=2, num_self_attends_per_block=2,
        num_self_attention_heads=4, num_cross_attention_heads=1, num_frames=2, image_size=16,
        audio_samples_per_frame=64, samples_per_patch=16, num_labels=10, output_shape=[1, 2, 16, 16],
        output_num_channels=8, _label_trainable_num_channels=8, qk_channels=None, v_channels=None,
        cross_attention_widening_factor=1, self_attention_widening_factor=2,
    )
    model = PerceiverForMultimodalAutoencoding(config).eval()
    g = torch.Generator().manual_seed(32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            p.copy_(p.half().float())
    OUT.mkdir(parents=True, exist_ok=True)
    keep = ("perceiver.embeddings.", "perceiver.input_preprocessor.", "perceiver.encoder.")
    state = {k: v.half().contiguous() for k, v in model.state_dict().items() if k.startswith(keep)}
    save_file(state, str(OUT / "model.safetensors"), metadata={"format": "pt"})
    config.to_json_file(str(OUT / "config.json"))

    video = torch.randn(1, 2, 3, 16, 16, generator=g)
    audio = torch.randn(1, 128, 1, generator=g)
    label = torch.zeros(1, 10)
    with torch.inference_mode():
        out = model.perceiver(inputs={"image": video, "audio": audio, "label": label},
                              subsampled_output_points={"image": torch.arange(4), "audio": torch.arange(4), "label": None})
        pooled = out.last_hidden_state[0].mean(0)
    np.ascontiguousarray(video.numpy(), dtype="<f4").tofile(OUT / "video.f32")
    np.ascontiguousarray(audio.numpy(), dtype="<f4").tofile(OUT / "audio.f32")
    (OUT / "golden.json").write_text(json.dumps({"pooled": pooled.tolist()}) + "\n")
    print(f"{OUT}: {sum(f.stat().st_size for f in OUT.iterdir()) / 1024:.0f} KiB; tensors:")
    for k, v in state.items():
        print(f"  {k} {list(v.shape)}")


if __name__ == "__main__":
    main()
