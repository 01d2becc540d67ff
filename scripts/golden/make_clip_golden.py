#!/usr/bin/env python3
"""Golden files for kin's CLIP towers, made with transformers' CLIPModel.

CLIP's weights are not obtainable on kin's build machines, so the committed fixtures are small
randomly initialised CLIP models with the real checkpoint layout (tensor names, config.json,
tokenizer.json), and the vectors transformers computes from them:

    crates/kin-embed/tests/golden/clip/<variant>/
        config.json, model.safetensors (f16), tokenizer.json, preprocessor_config.json
        golden.json           texts, their token ids, shapes
        text.f32              get_text_features for each text, little-endian f32
        pixels.f32            random preprocessed images [n, 3, S, S]
        image.f32             get_image_features of those pixels

Variants: `tiny-quick` (quick_gelu, the legacy `eos_token_id: 2` pooling by highest id) and
`tiny-gelu` (gelu, pooling at the first end-of-text id). Weights are rounded to f16 before the
reference runs, so the f16 fixtures hold exactly the weights the reference used.

The tokenizer is CLIP's own byte-level BPE, built from CLIP's merges file exactly as CLIP builds
its vocabulary, cut to the first --merges merges to keep the fixture small. The merges file ships
in the `open-clip-torch` wheel on PyPI:

    pip download --no-deps -d /tmp/oc open-clip-torch
    unzip -j /tmp/oc/open_clip_torch-*.whl open_clip/bpe_simple_vocab_16e6.txt.gz -d /tmp/oc

With --full DIR it also writes a full-size randomly initialised openai/clip-vit-base-patch32
(the real config, the complete 49,408-token tokenizer) and its reference vectors into DIR, for the
ignored slow test (KIN_TEST_CLIP_FULL_DIR=DIR); --full-large DIR does the same for
openai/clip-vit-large-patch14. Nothing under DIR is committed.

Usage: python make_clip_golden.py --bpe bpe_simple_vocab_16e6.txt.gz [--full DIR]
"""

import argparse
import gzip
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from PIL import Image, ImageOps
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/kin-embed/tests/golden/clip"
# Image files (from kin-image's fixtures) embedded end to end: decode, preprocess, image tower.
# Lossless formats only: kin's JPEG decoder differs from libjpeg-turbo by a few levels.
IMAGES = ROOT / "crates/kin-image/tests/golden/images"
FILES = ["photo_500x375.png", "exif6_90x60.png", "palette_640x97.png", "rgb_111x65.bmp", "lossless_130x70.webp",
         "two_frames_200x150.gif", "gray16_150x100.png"]

TEXTS = [
    "a photo of a dog",
    "A PHOTO OF A CAT on the beach.",
    "x",
    "",
    "two  spaces\tand\na newline",
    "it's a dog's life, isn't it? we'll see",
    "Ünïcödé façade — naïve café",
    "東京の夜景",
    "emoji 🐕‍🦺 and 🎉!!",
    "numbers 1234567890 and 3.14159",
    "<|endoftext|> inside the text",
    "code: fn main() { println!(\"hi\"); }",
    # Longer than 77 tokens: truncated, the end-of-text token kept.
    " ".join(["a very long caption about mountains and rivers"] * 12),
    "the quick brown fox jumps over the lazy dog " * 3,
]

PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}


def bytes_to_unicode():
    """CLIP's (and GPT-2's) reversible byte → printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_tokenizer(bpe_path, n_merges):
    """CLIP's vocabulary: 256 byte symbols, the same with </w>, one entry per merge, 2 specials."""
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1][:n_merges]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=[tuple(m.split()) for m in merges])


def randomise(model, seed):
    """Non-trivial LayerNorm parameters and embeddings, then f16-representable weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layrnorm" in name or "norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            p.copy_(p.half().float())
    return model.eval()


def write_f32(path, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(path)


def make(out, config, tokenizer, seed, dtype, n_images):
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = randomise(CLIPModel(config), seed)
    state = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items() if "position_ids" not in k}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.to_json_file(str(out / "config.json"))
    tokenizer.save_pretrained(str(out))
    for extra in ["tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja"]:
        if (out / extra).exists():
            (out / extra).unlink()
    image_size = config.vision_config.image_size
    pre = dict(PREPROCESSOR, crop_size={"height": image_size, "width": image_size}, size={"shortest_edge": image_size})
    (out / "preprocessor_config.json").write_text(json.dumps(pre, indent=2) + "\n")

    ids = [tokenizer(t, truncation=True, max_length=config.text_config.max_position_embeddings)["input_ids"] for t in TEXTS]
    with torch.inference_mode():
        text = torch.cat([model.get_text_features(input_ids=torch.tensor([i])).pooler_output for i in ids])
        g = torch.Generator().manual_seed(seed + 1)
        pixels = torch.randn((n_images, 3, image_size, image_size), generator=g)
        image = model.get_image_features(pixel_values=pixels).pooler_output
        # Batched text with padding must agree with one at a time (a sanity check of the reference).
        batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=config.text_config.max_position_embeddings, return_tensors="pt")
        batched = model.get_text_features(**batch).pooler_output
        assert torch.allclose(batched, text, atol=1e-5), "reference: batched text differs from single"
        # Files: Pillow decodes, turns by EXIF, converts to RGB (alpha dropped, 16-bit gray by its
        # high byte, as kin does), then the Pillow-backend CLIP processor.
        processor = CLIPImageProcessorPil(**{k: v for k, v in pre.items() if k != "image_processor_type"})
        files = []
        for name in FILES:
            img = ImageOps.exif_transpose(Image.open(IMAGES / name))
            if img.mode in ("I;16", "I;16B", "I"):
                img = Image.fromarray((np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)).convert("RGB")
            files.append(img.convert("RGB"))
        values = processor(images=files, return_tensors="pt")["pixel_values"]
        from_files = model.get_image_features(pixel_values=values).pooler_output
    write_f32(out / "files.f32", from_files.numpy())
    write_f32(out / "text.f32", text.numpy())
    write_f32(out / "pixels.f32", pixels.numpy())
    write_f32(out / "image.f32", image.numpy())
    golden = {
        "texts": TEXTS,
        "ids": ids,
        "dim": config.projection_dim,
        "image_size": image_size,
        "images": n_images,
        "hidden_act": config.text_config.hidden_act,
        "eos_token_id": config.text_config.eos_token_id,
        "files": FILES,
    }
    (out / "golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out}: {size / 1024:.0f} KiB, ids lengths {[len(i) for i in ids]}")


def tiny_config(vocab_size, act, eos, eos_id):
    return CLIPConfig(
        projection_dim=24,
        text_config=dict(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=77, hidden_act=act, eos_token_id=eos if eos == 2 else eos_id,
            bos_token_id=eos_id - 1, pad_token_id=eos_id,
        ),
        vision_config=dict(
            hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
            patch_size=8, hidden_act=act,
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bpe", required=True, help="CLIP's bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--merges", type=int, default=1000)
    parser.add_argument("--full", help="also write a full-size random openai/clip-vit-base-patch32 here")
    parser.add_argument("--full-large", help="also write a full-size random openai/clip-vit-large-patch14 here")
    args = parser.parse_args()
    torch.set_num_threads(2)

    tokenizer = clip_tokenizer(args.bpe, args.merges)
    vocab = len(tokenizer)
    eos_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    make(OUT / "tiny-quick", tiny_config(vocab, "quick_gelu", 2, eos_id), tokenizer, 11, torch.float16, 3)
    make(OUT / "tiny-gelu", tiny_config(vocab, "gelu", None, eos_id), tokenizer, 12, torch.float16, 3)

    if args.full:
        full = clip_tokenizer(args.bpe, 49152 - 256 - 2)
        assert len(full) == 49408
        config = CLIPConfig(
            projection_dim=512,
            text_config=dict(eos_token_id=2, bos_token_id=0, pad_token_id=1),
            vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                               image_size=224, patch_size=32),
        )
        make(Path(args.full), config, full, 13, torch.float32, 2)

    if args.full_large:
        full = clip_tokenizer(args.bpe, 49152 - 256 - 2)
        config = CLIPConfig(
            projection_dim=768,
            text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                             eos_token_id=2, bos_token_id=0, pad_token_id=1),
            vision_config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                               image_size=224, patch_size=14),
        )
        make(Path(args.full_large), config, full, 14, torch.float32, 2)


if __name__ == "__main__":
    main()
