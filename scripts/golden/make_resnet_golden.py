"""Golden fixtures for kin's ResNet image encoder.

Builds small, randomly initialised ResNets in both checkpoint layouts kin reads -- Hugging Face
`ResNetModel` / `ResNetForImageClassification` and torchvision `ResNet` -- with BatchNorm
statistics and affine parameters randomised (so folding them into the convolutions is tested),
runs them in eval mode on random pixels and writes everything kin's test needs:

    crates/kin-embed/tests/golden/resnet/
        manifest.json             inputs and models: shapes, files, which model reads which input
        input-*.f32               pixels, [n, 3, h, w], raw little-endian f32
        <model>/config.json       (Hugging Face models only)
        <model>/model.safetensors
        <model>/output-*.f32      the reference embeddings, [n, dim]

With `--full DIR` it also writes full-size ResNet-50s (microsoft/resnet-50's config; torchvision
`resnet50()`), randomly initialised, with one 224x224 batch and its reference outputs, for the
slow test (`KIN_TEST_RESNET_FULL_DIR=DIR`). Those are not committed.

Run with: /work/venv/bin/python scripts/golden/make_resnet_golden.py [--full DIR]
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.models import resnet as tv
from transformers import ResNetConfig, ResNetForImageClassification, ResNetModel

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "kin-embed", "tests", "golden", "resnet")


def randomise_batch_norms(model, gen):
    """Replaces the default BatchNorm state (0/1) with random statistics and affine parameters."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))
    return model.eval()


def write_f32(path, tensor):
    tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


class SmallTorchvisionResNet(tv.ResNet):
    """torchvision's ResNet with every stage `divisor` times narrower (the stem keeps 64 channels)."""

    def __init__(self, block, layers, divisor):
        self.divisor = divisor
        super().__init__(block, layers)
        self.fc = nn.Linear(512 // divisor * block.expansion, 10)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        return super()._make_layer(block, planes // self.divisor, blocks, stride, dilate)


def save_torchvision(model, folder):
    """Writes the state dict as torchvision has it (the classifier `fc` included) twice: as
    safetensors and as torch.save's zip; then drops the classifier from the model."""
    os.makedirs(folder, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(folder, "model.pth"))
    tensors = {k: v.contiguous() for k, v in state.items() if "num_batches_tracked" not in k}
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    model.fc = nn.Identity()


def hf_state(model):
    state = model.state_dict()
    return {k: v.contiguous() for k, v in state.items() if "num_batches_tracked" not in k}


def save_hf(model, folder):
    os.makedirs(folder, exist_ok=True)
    model.config.to_json_file(os.path.join(folder, "config.json"))
    save_file(hf_state(model), os.path.join(folder, "model.safetensors"))


def hf_embed(model, pixels):
    base = model.resnet if isinstance(model, ResNetForImageClassification) else model
    return base(pixel_values=pixels).pooler_output.flatten(1)


def small_models(gen):
    models = {}
    cfg = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 48, 64], depths=[1, 2, 1, 1])
    models["hf-bottleneck"] = ("hf", randomise_batch_norms(ResNetModel(cfg), gen))
    cfg = ResNetConfig(
        embedding_size=16,
        hidden_sizes=[16, 24, 32, 40],
        depths=[2, 1, 1, 1],
        downsample_in_first_stage=True,
        downsample_in_bottleneck=True,
        num_labels=5,
    )
    models["hf-flags-prefixed"] = ("hf", randomise_batch_norms(ResNetForImageClassification(cfg), gen))
    cfg = ResNetConfig(embedding_size=16, hidden_sizes=[8, 12, 16, 24], depths=[1, 1, 2, 1], layer_type="basic")
    models["hf-basic"] = ("hf", randomise_batch_norms(ResNetModel(cfg), gen))
    models["tv-bottleneck"] = ("tv", randomise_batch_norms(SmallTorchvisionResNet(tv.Bottleneck, [1, 1, 2, 1], 32), gen))
    models["tv-basic"] = ("tv", randomise_batch_norms(SmallTorchvisionResNet(tv.BasicBlock, [1, 1, 1, 1], 16), gen))
    return models


def write_set(root, models, inputs, gen):
    os.makedirs(root, exist_ok=True)
    manifest = {"inputs": [], "models": []}
    pixels = {}
    for name, shape in inputs:
        pixels[name] = torch.randn(*shape, generator=gen)
        write_f32(os.path.join(root, f"input-{name}.f32"), pixels[name])
        manifest["inputs"].append({"name": name, "file": f"input-{name}.f32", "shape": list(shape)})
    for name, (layout, model) in models.items():
        folder = os.path.join(root, name)
        if layout == "hf":
            save_hf(model, folder)
        else:
            save_torchvision(model, folder)
        outputs = []
        for entry in manifest["inputs"]:
            with torch.inference_mode():
                x = pixels[entry["name"]]
                out = hf_embed(model, x) if layout == "hf" else model(x)
            file = f"output-{entry['name']}.f32"
            write_f32(os.path.join(folder, file), out)
            outputs.append({"input": entry["name"], "file": file, "shape": list(out.shape)})
        manifest["models"].append({"name": name, "layout": layout, "outputs": outputs})
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", metavar="DIR", help="also write full-size ResNet-50s and a 224x224 batch to DIR")
    args = parser.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    write_set(ROOT, small_models(gen), [("a", (2, 3, 48, 48)), ("odd", (1, 3, 57, 71))], gen)
    if args.full:
        full = {
            "hf-resnet-50": ("hf", randomise_batch_norms(ResNetForImageClassification(ResNetConfig(num_labels=1000)), gen)),
            "tv-resnet50": ("tv", randomise_batch_norms(tv.resnet50(), gen)),
        }
        write_set(args.full, full, [("224", (2, 3, 224, 224))], gen)


if __name__ == "__main__":
    main()
