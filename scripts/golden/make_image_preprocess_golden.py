#!/usr/bin/env python
"""Golden fixtures for kin-image: decoding and preprocessing against the reference pipelines.

Run from the repository root with Python, Pillow, numpy, torch, torchvision and transformers:

    python scripts/golden/make_image_preprocess_golden.py

It writes crates/kin-image/tests/golden/:
  images/*          source images, made here deterministically (seeded), every mode kin decodes
  decoded/*.png     Pillow's decoded RGB for the lossy sources (JPEG, lossy WebP), lossless
  configs/*.json    the preprocessor_config.json of openai/clip-vit-base-patch32 and microsoft/resnet-50
  tensors/*.f32     a few full reference tensors, little-endian float32, CHW
  manifest.json     per source: Pillow's decoded size and RGB sha256; per source and pipeline: the
                    sha256 of the uint8 image the pipeline normalised, and sampled tensor values

"Decoded" means ImageOps.exif_transpose(Image.open(f)).convert("RGB"), except 16-bit grayscale,
which Pillow opens as mode I;16 and clips to white on convert("RGB"); its reference is the high
byte of every sample (np.array(img) >> 8), which is what kin does.

The pipelines run on that decoded RGB image:
  clip         transformers CLIPImageProcessorPil with openai/clip-vit-base-patch32's config
  convnext     transformers ConvNextImageProcessorPil with microsoft/resnet-50's config
  torchvision  torchvision ResNet50_Weights.IMAGENET1K_V1.transforms() on the PIL image
Each pipeline's uint8 image (after resize and crop) is recovered by inverting the normalisation and
rounding; the script asserts that normalising it again gives the reference tensor to 1e-6.

It also prints the largest difference between transformers' Pillow backend (CLIPImageProcessorPil,
which kin matches) and its torchvision backend (CLIPImageProcessor) on the same images.
"""

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.models import ResNet50_Weights
from transformers import CLIPImageProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil

ROOT = Path(__file__).resolve().parents[2] / "crates/kin-image/tests/golden"
RNG = np.random.default_rng(20240607)

CLIP_CONFIG = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "size": 224,
}
RESNET_CONFIG = {
    "crop_pct": 0.875,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "ConvNextFeatureExtractor",
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "resample": 3,
    "size": 224,
}


def kwargs(config):
    return {k: v for k, v in config.items() if not k.endswith("_type")}


def scene(w, h, seed):
    """Smooth gradients, a few hard-edged shapes and thin lines: structure, but compressible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / max(w - 1, 1), y / max(h - 1, 1)
    r = 128 + 110 * np.sin(2 * np.pi * (1.3 * u + 0.4 * v) + rng.uniform(0, 6))
    g = 255 * (0.2 + 0.7 * v) * (0.5 + 0.5 * u)
    b = 128 + 100 * np.cos(2 * np.pi * 2.1 * np.hypot(u - 0.4, v - 0.6))
    img = np.stack([r, g, b], axis=-1)
    for _ in range(4):
        cx, cy, rad = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.3) * min(w, h) + 1
        img[(x - cx) ** 2 + (y - cy) ** 2 < rad**2] = rng.integers(0, 256, 3)
    img[:, :: max(w // 9, 2)] = [250, 250, 250]
    img[:: max(h // 7, 2), :] = [5, 5, 5]
    return np.clip(img, 0, 255).round().astype(np.uint8)


def png16(arr, color_type):
    """A 16-bit PNG (Pillow cannot write 16-bit RGB). color_type 0 gray, 2 RGB."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[row].astype(">u2").tobytes() for row in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def exif_with_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def save(img, **params):
    buf = io.BytesIO()
    img.save(buf, **params)
    return buf.getvalue()


def make_sources():
    """(file name, bytes, lossy) for every fixture."""
    out = []
    rgb = lambda w, h, s: Image.fromarray(scene(w, h, s))  # noqa: E731
    out.append(("rgb_300x300.png", save(rgb(300, 300, 1), format="PNG", optimize=True), False))
    out.append(("photo_500x375.png", save(rgb(500, 375, 2), format="PNG", optimize=True), False))
    a = scene(64, 48, 3)
    alpha = (np.mgrid[0:48, 0:64][1] * 4).astype(np.uint8)
    out.append(("rgba_64x48.png", save(Image.fromarray(np.dstack([a, alpha]), "RGBA"), format="PNG"), False))
    out.append(("gray_7x5.png", save(rgb(7, 5, 4).convert("L"), format="PNG"), False))
    la = rgb(33, 200, 5).convert("LA")
    out.append(("gray_alpha_33x200.png", save(la, format="PNG"), False))
    pal = rgb(640, 97, 6).quantize(colors=64, dither=Image.Dither.NONE)
    out.append(("palette_640x97.png", save(pal, format="PNG", transparency=3), False))
    out.append(("rgb16_120x90.png", png16(scene(120, 90, 7).astype(np.uint16) * 257 + 93, 2), False))
    g16 = (np.mgrid[0:100, 0:150][1] * 437 + np.mgrid[0:100, 0:150][0] * 3).astype(np.uint16)
    out.append(("gray16_150x100.png", png16(g16, 0), False))
    out.append(("exif6_90x60.png", save(rgb(90, 60, 8), format="PNG", exif=exif_with_orientation(6)), False))
    out.append(("baseline_240x180.jpg", save(rgb(240, 180, 9), format="JPEG", quality=90), True))
    out.append(("progressive_257x181.jpg", save(rgb(257, 181, 10), format="JPEG", quality=85, progressive=True), True))
    out.append(("gray_100x80.jpg", save(rgb(100, 80, 11).convert("L"), format="JPEG", quality=90), True))
    out.append(("cmyk_90x120.jpg", save(rgb(90, 120, 12).convert("CMYK"), format="JPEG", quality=90), True))
    for orientation, seed in [(6, 13), (3, 14), (8, 15)]:
        jpg = save(rgb(160, 120, seed), format="JPEG", quality=88, exif=exif_with_orientation(orientation))
        out.append((f"exif{orientation}_160x120.jpg", jpg, True))
    out.append(("lossless_130x70.webp", save(rgb(130, 70, 16), format="WEBP", lossless=True), False))
    out.append(("lossy_130x70.webp", save(rgb(130, 70, 17), format="WEBP", quality=80), True))
    frames = [rgb(200, 150, 18).quantize(colors=128, dither=Image.Dither.NONE), rgb(200, 150, 19).quantize(colors=128)]
    out.append(("two_frames_200x150.gif", save(frames[0], format="GIF", save_all=True, append_images=frames[1:]), False))
    out.append(("rgb_111x65.bmp", save(rgb(111, 65, 20), format="BMP"), False))
    out.append(("lzw_180x140.tif", save(rgb(180, 140, 21), format="TIFF", compression="tiff_lzw"), False))
    out.append(("exif8_70x50.tif", save(rgb(70, 50, 22), format="TIFF", tiffinfo={0x0112: 8}), False))
    return out


def pillow_decode(data):
    img = Image.open(io.BytesIO(data))
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        gray = (np.array(img).astype(np.uint32) >> 8).astype(np.uint8)
        return Image.fromarray(np.dstack([gray] * 3), "RGB")
    return img.convert("RGB")


MEANS = {
    "clip": (CLIP_CONFIG["image_mean"], CLIP_CONFIG["image_std"]),
    "convnext": (RESNET_CONFIG["image_mean"], RESNET_CONFIG["image_std"]),
    "torchvision": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
}


def run_pipelines(img):
    clip = CLIPImageProcessorPil(**kwargs(CLIP_CONFIG))
    convnext = ConvNextImageProcessorPil(**kwargs(RESNET_CONFIG))
    tv = ResNet50_Weights.IMAGENET1K_V1.transforms()
    return {
        "clip": np.asarray(clip(images=img, return_tensors="np")["pixel_values"][0], dtype=np.float32),
        "convnext": np.asarray(convnext(images=img, return_tensors="np")["pixel_values"][0], dtype=np.float32),
        "torchvision": tv(img).numpy().astype(np.float32),
    }


def recover_u8(name, tensor):
    mean, std = (np.array(v, dtype=np.float32)[:, None, None] for v in MEANS[name])
    u8 = np.clip(np.round((tensor.astype(np.float64) * std + mean) * 255), 0, 255).astype(np.uint8)
    again = (u8.astype(np.float32) / np.float32(255) - mean) / std
    err = float(np.abs(again - tensor).max())
    assert err < 1e-6, f"{name}: the reference is not a normalised uint8 image ({err})"
    return u8


def main():
    for sub in ("images", "decoded", "configs", "tensors"):
        (ROOT / sub).mkdir(parents=True, exist_ok=True)
    (ROOT / "configs/clip-vit-base-patch32.json").write_text(json.dumps(CLIP_CONFIG, indent=2) + "\n")
    (ROOT / "configs/resnet-50.json").write_text(json.dumps(RESNET_CONFIG, indent=2) + "\n")
    # One full tensor (600 KiB) proves the normalisation end to end; every other case is checked
    # through its uint8 image's hash and 48 sampled tensor values, to keep the fixtures small.
    full_tensors = {("photo_500x375.png", "clip")}
    torch_backend = CLIPImageProcessor(**kwargs(CLIP_CONFIG))
    backend_diff = 0.0
    sources = []
    for file, data, lossy in make_sources():
        (ROOT / "images" / file).write_bytes(data)
        img = pillow_decode(data)
        rgb = np.asarray(img)
        entry = {
            "file": file,
            "lossy": lossy,
            "width": img.width,
            "height": img.height,
            "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
            "pipelines": {},
        }
        if lossy:
            entry["decoded"] = f"decoded/{Path(file).stem}.png"
            img.save(ROOT / entry["decoded"], optimize=True)
        for name, tensor in run_pipelines(img).items():
            u8 = recover_u8(name, tensor)
            hwc = np.ascontiguousarray(u8.transpose(1, 2, 0))
            flat = tensor.reshape(-1)
            idx = np.sort(RNG.choice(flat.size, 48, replace=False))
            case = {
                "height": int(u8.shape[1]),
                "width": int(u8.shape[2]),
                "u8_sha256": hashlib.sha256(hwc.tobytes()).hexdigest(),
                "samples": [[int(i), float(flat[i])] for i in idx],
            }
            if (file, name) in full_tensors:
                case["tensor"] = f"tensors/{Path(file).stem}.{name}.f32"
                (ROOT / case["tensor"]).write_bytes(tensor.astype("<f4").tobytes())
            entry["pipelines"][name] = case
        other = torch_backend(images=img, return_tensors="pt")["pixel_values"][0].numpy()
        diff = float(np.abs(other - run_pipelines(img)["clip"]).max())
        entry["clip_torch_backend_max_abs_diff"] = diff
        backend_diff = max(backend_diff, diff)
        sources.append(entry)
        print(f"{file:28} {img.width}x{img.height}  pil-vs-torch backend max abs {diff:.4f}")
    # One source a line: readable diffs without a line per sampled value.
    lines = ",\n".join(json.dumps(entry) for entry in sources)
    text = f'{{"clip_torch_backend_max_abs_diff": {backend_diff},\n"sources": [\n{lines}\n]}}\n'
    json.loads(text)
    (ROOT / "manifest.json").write_text(text)
    print(f"transformers CLIP: Pillow backend vs torchvision backend, max abs difference {backend_diff:.4f}")
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    print(f"fixtures: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
