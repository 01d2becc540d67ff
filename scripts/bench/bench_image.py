#!/usr/bin/env python3
"""Image embedding speed: kin against transformers / torchvision on CPU, in one run.

Two measurements per model, each side by side with its peer:

* network: images/s of the network alone on preprocessed 224×224 input (kin's
  `image_speed` example against `torch.inference_mode()` forward passes, same batch size);
* files: images/s from image files on disk to vectors, whole process for kin
  (`kin embed --model DIR FILES… --output v.npy`: start, load, decode, preprocess, embed, write)
  against Python doing the same in a warm process (Pillow decode, the model's processor, forward
  passes; imports and model loading not counted, which favours the reference);
* files, whole process: the same, with the reference also run as a fresh process (imports, model
  loading, decoding, embedding), as a user runs it.

Checkpoints are full-size randomly initialised models in the real layouts, made by
`scripts/golden/make_clip_golden.py --full DIR` and `scripts/golden/make_resnet_golden.py --full DIR`
(speed does not depend on the weights' values).

Usage:
  python bench_image.py --kin target/release/kin --image-speed target/release/examples/image_speed \\
      --clip DIR --hf-resnet DIR --tv-resnet DIR [--images 64] [--runs 3] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_images(folder, n, seed=0):
    """Photo-sized JPEGs and PNGs with smooth content plus noise (640×480 and 500×375)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        w, h = (640, 480) if i % 2 == 0 else (500, 375)
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 // w), (y * 255 // h), ((x + y + 40 * i) % 256)], axis=-1).astype(np.int16)
        img = np.clip(base + rng.integers(-20, 20, size=base.shape), 0, 255).astype(np.uint8)
        path = folder / (f"img{i:03d}.jpg" if i % 4 else f"img{i:03d}.png")
        Image.fromarray(img).save(path, quality=90) if path.suffix == ".jpg" else Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def best_of(runs, fn):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def kin_network(image_speed, model_dir, n, runs, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), KIN_OFFLINE="1")
    out = subprocess.run([image_speed, str(model_dir), str(n), str(runs)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.split("images_per_second=")[1].split()[0])


def kin_files(kin, model_dir, files, runs, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), KIN_OFFLINE="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.npy"
        cmd = [kin, "embed", "--model", str(model_dir), *map(str, files), "--output", str(out)]
        secs = best_of(runs, lambda: subprocess.run(cmd, env=env, check=True, capture_output=True))
        return len(files) / secs, np.load(out)


def torch_network(forward, n, runs):
    x = torch.randn(n, 3, 224, 224)
    with torch.inference_mode():
        forward(x[:2])
        return n / best_of(runs, lambda: forward(x))


def torch_files(files, preprocess, forward, runs, batch=32):
    out = []

    def run():
        out.clear()
        with torch.inference_mode():
            for i in range(0, len(files), batch):
                images = [Image.open(f).convert("RGB") for f in files[i:i + batch]]
                out.append(forward(preprocess(images)))

    secs = best_of(runs, run)
    return len(files) / secs, torch.cat(out).numpy()


WHOLE = r"""
import sys, json, torch
from pathlib import Path
from PIL import Image
torch.set_num_threads(int(sys.argv[3]))
kind, model_dir, files = sys.argv[1], sys.argv[2], sys.argv[4:]
if kind == "clip":
    from transformers import CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    model = CLIPModel.from_pretrained(model_dir).eval()
    cfg = json.loads((Path(model_dir) / "preprocessor_config.json").read_text()); cfg.pop("image_processor_type", None)
    proc = CLIPImageProcessorPil(**cfg)
    prep = lambda ims: proc(images=ims, return_tensors="pt")["pixel_values"]
    fwd = lambda x: model.get_image_features(pixel_values=x).pooler_output
elif kind == "hf-resnet":
    from transformers import ResNetModel
    from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil
    model = ResNetModel.from_pretrained(model_dir).eval()
    proc = ConvNextImageProcessorPil(size={"shortest_edge": 224}, crop_pct=0.875, resample=3,
                                     image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    prep = lambda ims: proc(images=ims, return_tensors="pt")["pixel_values"]
    fwd = lambda x: model(pixel_values=x).pooler_output.flatten(1)
else:
    import torchvision
    from safetensors.torch import load_file
    model = torchvision.models.resnet50(); model.fc = torch.nn.Identity()
    model.load_state_dict(load_file(str(Path(model_dir) / "model.safetensors")), strict=False); model.eval()
    t = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.transforms()
    prep = lambda ims: torch.stack([t(im) for im in ims])
    fwd = model
with torch.inference_mode():
    for i in range(0, len(files), 32):
        fwd(prep([Image.open(f).convert("RGB") for f in files[i:i + 32]]))
"""


def python_whole_process(kind, model_dir, files, runs, threads):
    """The reference as a user runs it: a fresh process that imports, loads, decodes and embeds."""
    cmd = [sys.executable, "-c", WHOLE, kind, str(model_dir), str(threads), *map(str, files)]
    return len(files) / best_of(runs, lambda: subprocess.run(cmd, check=True, capture_output=True))


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kin", required=True)
    p.add_argument("--image-speed", required=True)
    p.add_argument("--clip")
    p.add_argument("--hf-resnet")
    p.add_argument("--tv-resnet")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = make_images(Path(tmp), args.images)
        if args.clip:
            from transformers import CLIPModel
            from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
            model = CLIPModel.from_pretrained(args.clip).eval()
            cfg = json.loads((Path(args.clip) / "preprocessor_config.json").read_text())
            cfg.pop("image_processor_type", None)
            processor = CLIPImageProcessorPil(**cfg)
            fwd = lambda x: model.get_image_features(pixel_values=x).pooler_output
            rows.append(("CLIP ViT-B/32 image tower", "network", torch_network(fwd, 32, args.runs),
                         kin_network(args.image_speed, args.clip, 32, args.runs, args.threads), None))
            ref_ips, ref = torch_files(files, lambda ims: processor(images=ims, return_tensors="pt")["pixel_values"], fwd, args.runs)
            kin_ips, got = kin_files(args.kin, args.clip, files, args.runs, args.threads)
            rows.append(("CLIP ViT-B/32 image tower", "files", ref_ips, kin_ips, cosines(got, ref).min()))
            rows.append(("CLIP ViT-B/32 image tower", "files, whole process", python_whole_process("clip", args.clip, files, args.runs, args.threads), kin_ips, None))
            del model
        if args.hf_resnet:
            from transformers import ResNetModel
            from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil
            model = ResNetModel.from_pretrained(args.hf_resnet).eval()
            processor = ConvNextImageProcessorPil(size={"shortest_edge": 224}, crop_pct=0.875, resample=3,
                                                  image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
            fwd = lambda x: model(pixel_values=x).pooler_output.flatten(1)
            rows.append(("ResNet-50 (transformers)", "network", torch_network(fwd, 32, args.runs),
                         kin_network(args.image_speed, args.hf_resnet, 32, args.runs, args.threads), None))
            ref_ips, ref = torch_files(files, lambda ims: processor(images=ims, return_tensors="pt")["pixel_values"], fwd, args.runs)
            kin_ips, got = kin_files(args.kin, args.hf_resnet, files, args.runs, args.threads)
            rows.append(("ResNet-50 (transformers)", "files", ref_ips, kin_ips, cosines(got, ref).min()))
            rows.append(("ResNet-50 (transformers)", "files, whole process", python_whole_process("hf-resnet", args.hf_resnet, files, args.runs, args.threads), kin_ips, None))
            del model
        if args.tv_resnet:
            import torchvision
            from safetensors.torch import load_file
            model = torchvision.models.resnet50()
            model.fc = torch.nn.Identity()
            model.load_state_dict(load_file(str(Path(args.tv_resnet) / "model.safetensors")), strict=False)
            model.eval()
            transform = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.transforms()
            rows.append(("ResNet-50 (torchvision)", "network", torch_network(model, 32, args.runs),
                         kin_network(args.image_speed, args.tv_resnet, 32, args.runs, args.threads), None))
            ref_ips, ref = torch_files(files, lambda ims: torch.stack([transform(im) for im in ims]), model, args.runs)
            kin_ips, got = kin_files(args.kin, args.tv_resnet, files, args.runs, args.threads)
            rows.append(("ResNet-50 (torchvision)", "files", ref_ips, kin_ips, cosines(got, ref).min()))
            rows.append(("ResNet-50 (torchvision)", "files, whole process", python_whole_process("tv-resnet", args.tv_resnet, files, args.runs, args.threads), kin_ips, None))
    print(f"\n{args.images} images, {args.threads} threads, best of {args.runs}\n")
    print("| model | measured | reference images/s | kin images/s | kin / reference | min cosine |")
    print("|---|---|---:|---:|---:|---:|")
    for name, what, ref, kin, cos in rows:
        c = "" if cos is None else f"{cos:.6f}"
        print(f"| {name} | {what} | {ref:.2f} | {kin:.2f} | {kin / ref:.2f}× | {c} |")


if __name__ == "__main__":
    sys.exit(main())
