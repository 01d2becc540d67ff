#!/usr/bin/env python3
"""Golden file for transparent images through transformers' CLIP processor.

transformers' `convert_to_rgb` (used when `do_convert_rgb` is on, as in CLIP's processors) lays an
image with transparency over white before anything else. This script runs CLIPImageProcessorPil
with openai/clip-vit-base-patch32's settings on the fixture images of kin-image that have
transparency, straight from the file (`ImageOps.exif_transpose(Image.open(f))`), and records, as
make_image_preprocess_golden.py does, the sha256 of the uint8 image it normalised and sampled
tensor values: crates/kin-image/tests/golden/alpha.json.

Usage: python make_image_alpha_golden.py   (after make_image_preprocess_golden.py)
"""

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = Path(__file__).resolve().parents[2] / "crates/kin-image/tests/golden"
FILES = ["rgba_64x48.png", "gray_alpha_33x200.png", "palette_640x97.png"]


def main():
    config = json.loads((ROOT / "configs/clip-vit-base-patch32.json").read_text())
    config.pop("image_processor_type", None)
    processor = CLIPImageProcessorPil(**config)
    mean = np.array(config["image_mean"], dtype=np.float32)[:, None, None]
    std = np.array(config["image_std"], dtype=np.float32)[:, None, None]
    rng = np.random.default_rng(7)
    cases, changes = [], []
    for name in FILES:
        img = ImageOps.exif_transpose(Image.open(ROOT / "images" / name))
        assert "A" in img.getbands() or img.info.get("transparency") is not None, f"{name} has no transparency"
        tensor = processor(images=img, return_tensors="np")["pixel_values"][0].astype(np.float32)
        dropped = processor(images=img.convert("RGB"), return_tensors="np")["pixel_values"][0]
        change = float(np.abs(tensor - dropped).max())
        u8 = np.clip(np.round((tensor.astype(np.float64) * std + mean) * 255), 0, 255).astype(np.uint8)
        assert np.abs((u8.astype(np.float32) / np.float32(255) - mean) / std - tensor).max() < 1e-6
        flat = tensor.reshape(-1)
        idx = np.sort(rng.choice(flat.size, 48, replace=False))
        cases.append({
            "file": name,
            "u8_sha256": hashlib.sha256(np.ascontiguousarray(u8.transpose(1, 2, 0)).tobytes()).hexdigest(),
            "samples": [[int(i), float(flat[i])] for i in idx],
        })
        print(f"{name}: mode {img.mode}, compositing changes the tensor by up to {change:.3f}")
        changes.append(change)
    assert max(changes) > 0.1, "compositing changes nothing on these images"
    (ROOT / "alpha.json").write_text(json.dumps(cases, indent=1) + "\n")


if __name__ == "__main__":
    main()
