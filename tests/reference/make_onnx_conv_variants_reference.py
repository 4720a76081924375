#!/usr/bin/python3
"""Writes PyTorch modules with grouped, depthwise and transposed convolutions, exported by torch.onnx.export, to
tests/reference/onnx/NAME.onnx, and PyTorch's outputs on a random batch to tests/reference/onnx_conv_variants_import.json,
for Cortex.Onnx's import tests (Conv2D(groups), DepthwiseConv2D, Conv2DTranspose).

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_onnx_conv_variants_reference.py
CI does not run this; it reads the committed files. As make_onnx_reference.py: eval mode, opset 17, a dynamic batch
axis, input "input" and output "output", NCHW images with pixels uniform in [0, 1).
"""
import io
import json
import os

import torch
from torch import nn

from reference_common import enc

torch.manual_seed(13579)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "onnx")
cases = []


def export(name, module, sample):
    module.eval()
    with torch.no_grad():
        x = torch.rand((5, *sample))
        y = module(x)
    f = io.BytesIO()
    torch.onnx.export(module, torch.zeros((1, *sample)), f, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with open(os.path.join(OUT_DIR, f"{name}.onnx"), "wb") as out:
        out.write(f.getvalue())
    cases.append({"name": name, "input": enc(x), "output": enc(y)})


# groups=in_channels is DepthwiseConv2D (output channel c·M + m, as Keras); other groups are Conv2D(groups).
export("conv_groups", nn.Sequential(nn.Conv2d(4, 8, 3, groups=4), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1, groups=2), nn.Tanh(),
                                    nn.Conv2d(6, 6, 3, stride=2, groups=6, bias=False), nn.Flatten(), nn.Linear(6 * 2 * 2, 3)), (4, 7, 7))
# The DCGAN up-sampler (k 4, s 2, p 1) is Keras's "same"; k 2, s 2 (U-Net) its "valid"; k 3, p 1 "same".
export("conv_transpose", nn.Sequential(nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), nn.ReLU(), nn.ConvTranspose2d(4, 2, 2, stride=2),
                                       nn.ConvTranspose2d(2, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(2 * 12 * 16, 2)), (3, 3, 4))
# k 3, s 2, p 1, output_padding 1 starts one pixel further in than Keras's "same" of the same size: "valid" and a crop.
export("conv_transpose_offset", nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                                              nn.ConvTranspose2d(3, 2, (3, 5), stride=(1, 2), padding=(0, 2))), (2, 3, 3))

with open(os.path.join(HERE, "onnx_conv_variants_import.json"), "w") as f:
    json.dump({"generator": "tests/reference/make_onnx_conv_variants_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} models to {OUT_DIR}")
