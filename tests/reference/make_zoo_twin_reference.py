#!/usr/bin/python3
"""Writes what bench/zoo.py's PyTorch twin of a Zoo graph computes to zoo_twin.json, for ZooTests to compare with
Cortex's Predict: the benchmark's PyTorch side must run the very network Cortex trains.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_zoo_twin_reference.py
CI does not run this; it reads the committed JSON.

Neither side draws the weights: both compute them from one formula, in Keras's layouts and Model.Variables order
(variable k, element j of its row-major values): w = 0.2·frac(1000·sin(0.731·j + 1.3·k)) − 0.1, spread over
[−0.1, 0.1) like random draws (a smooth formula would cancel out in the Dense layer's sums); the images (N, H, W, C), element j:
x = 0.5 + 0.5·sin(0.11·j + 0.2). Values are rounded to float32 (as Cortex stores them), the twin runs in float64 from
them, and zoo.Graph.load_keras takes the weights as Cortex holds them (so the file checks its layout changes too: a
Conv2D kernel (kh, kw, in, out), a Dense kernel after a Flatten of NHWC rows).
"""
import json
import os
import sys

import numpy
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import zoo  # noqa: E402  (bench/zoo.py)

from reference_common import enc  # noqa: E402

OUT = os.path.join(HERE, "zoo_twin.json")
IMAGES = 2


def formula(shape, k):
    j = numpy.arange(int(numpy.prod(shape)), dtype=numpy.float64)
    s = 1000.0 * numpy.sin(0.731 * j + 1.3 * k)
    return (0.2 * (s - numpy.floor(s)) - 0.1).astype(numpy.float32).reshape(shape)


def keras_shapes(model):
    """Each weight's shape as Cortex (Keras) holds it, in Model.Variables order."""
    shapes = []
    for block in model.blocks:
        for module in block:
            if isinstance(module, torch.nn.Conv2d):
                out, cin, kh, kw = module.weight.shape
                shapes.append((kh, kw, cin, out))
            elif isinstance(module, torch.nn.Linear):
                shapes.append((module.in_features, module.out_features))
            else:
                continue
            if module.bias is not None:
                shapes.append(tuple(module.bias.shape))
    return shapes


cases = []
for name in ("fashion_resnet",):
    model = zoo.build(name)
    model.load_keras([formula(shape, k) for k, shape in enumerate(keras_shapes(model))])
    model = model.double().eval()
    h, w, c = zoo.describe(name)["layers"][0]["shape"]
    j = numpy.arange(IMAGES * h * w * c, dtype=numpy.float64)
    nhwc = (0.5 + 0.5 * numpy.sin(0.11 * j + 0.2)).astype(numpy.float32).reshape(IMAGES, h, w, c)
    with torch.no_grad():
        logits = model(torch.from_numpy(nhwc).double().permute(0, 3, 1, 2))
    cases.append({"model": name, "images": IMAGES, "output": enc(logits)})

with open(OUT, "w") as f:
    json.dump({"comment": "Written by make_zoo_twin_reference.py: bench/zoo.py's PyTorch twin's logits from formula weights.", "cases": cases}, f)
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases")
