#!/usr/bin/python3
"""Writes PyTorch modules with cropping, up-sampling and layer normalisation, exported by torch.onnx.export,
to tests/reference/onnx/NAME.onnx, and PyTorch's outputs on a random batch to tests/reference/onnx_layers_import.json,
for Cortex.Onnx's import tests (Cropping2D, UpSampling2D, LayerNormalization).

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_onnx_layers_reference.py
CI does not run this; it reads the committed files. As make_onnx_reference.py: eval mode, opset 17, a dynamic batch
axis, input "input" and output "output", NCHW images with pixels uniform in [0, 1).
"""
import io
import json
import os

import torch
from torch import nn

from reference_common import enc

torch.manual_seed(86420)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "onnx")
cases = []


class Crop(nn.Module):
    """x[:, :, top:-bottom, left:] — PyTorch's cropping is slicing."""

    def forward(self, x):
        return x[:, :, 1:-2, 2:]


def export(name, module, sample):
    module.eval()
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):   # a trained model's γ and β, not ones and zeros
                m.weight.copy_(torch.randn_like(m.weight) * 0.3 + 1)
                m.bias.copy_(torch.randn_like(m.bias) * 0.3)
        x = torch.rand((5, *sample))
        y = module(x)
    f = io.BytesIO()
    torch.onnx.export(module, torch.zeros((1, *sample)), f, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with open(os.path.join(OUT_DIR, f"{name}.onnx"), "wb") as out:
        out.write(f.getvalue())
    cases.append({"name": name, "input": enc(x), "output": enc(y)})


# nn.ZeroPad2d is left out: torch.onnx computes its pads with a subgraph (ConstantOfShape, Concat, Reshape, Slice,
# Transpose, Cast) that the importer does not fold; Cortex's own Pad (constant pads) imports.
export("crop_upsample", nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
                                          nn.Conv2d(3, 2, 2), Crop(), nn.Upsample(scale_factor=(1, 2), mode="bilinear", align_corners=False),
                                          nn.Flatten(), nn.Linear(2 * 6 * 10, 3)), (2, 7, 6))
export("layer_norm", nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8, eps=1e-3), nn.ReLU(), nn.Linear(8, 5), nn.LayerNorm(5), nn.Linear(5, 3)), (6,))

with open(os.path.join(HERE, "onnx_layers_import.json"), "w") as f:
    json.dump({"generator": "tests/reference/make_onnx_layers_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} models to {OUT_DIR}")
