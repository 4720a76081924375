#!/usr/bin/python3
"""Writes the Normalization layer's statistics, outputs and input gradients, computed by PyTorch, to normalization.json.

Run:  /usr/bin/python3 tests/reference/make_normalization_reference.py
CI does not run this; it reads the committed JSON.

Keras's Normalization keeps one mean and variance per index of its `axis` (the axes not in it are reduced, the batch
axis always): here torch.mean and torch.var(unbiased=False) over the reduced axes of the adapt data, then
y = (x - mean) / max(sqrt(var), 1e-7) (inverted: x * max(sqrt(var), 1e-7) + mean), and dy/dx by autograd.
Each case: the layer's axis ([] = Keras's axis=None) and invert, the adapt data, the input x, the expected mean and
variance (shaped as the kept axes), the output, an upstream gradient and the input gradient.
"""
import json
import os

import torch

from reference_common import enc, randn, rand

torch.manual_seed(2024)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "normalization.json")
cases = []


def case(name, axis, adapt_shape, invert=False, scale=1.0, offset=0.0):
    data = randn(*adapt_shape, scale=scale) + offset
    x = (randn(*adapt_shape, scale=scale) + offset)[:3].clone().requires_grad_(True)
    rank = len(adapt_shape)
    kept = sorted(a % rank for a in axis)
    reduced = tuple(d for d in range(rank) if d not in kept)
    mean = data.mean(dim=reduced, keepdim=True)
    var = data.var(dim=reduced, unbiased=False, keepdim=True)
    std = torch.clamp(torch.sqrt(var), min=1e-7)
    y = x * std + mean if invert else (x - mean) / std
    upstream = randn(*y.shape)
    (y * upstream).sum().backward()
    stat_shape = [adapt_shape[a] for a in kept]
    cases.append({"name": name, "axis": axis, "invert": invert, "data": enc(data), "x": enc(x),
                  "mean": enc(mean.reshape(stat_shape)), "variance": enc(var.reshape(stat_shape)),
                  "output": enc(y), "upstream": enc(upstream), "grad": enc(x.grad)})


case("features", [-1], (40, 5), scale=3.0, offset=425.0)       # the coffee-roasting scale: big offsets, double sums
case("sequence_last_axis", [-1], (20, 4, 3))
case("image_per_pixel", [1, 2], (16, 3, 4, 2))
case("image_per_channel", [3], (16, 3, 4, 2))
case("all_values", [], (12, 3, 2), scale=2.0, offset=-1.0)
case("steps_and_features", [1, 2], (10, 4, 3))
case("inverted_features", [-1], (30, 4), invert=True, scale=0.5)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_normalization_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
