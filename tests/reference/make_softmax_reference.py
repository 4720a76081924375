#!/usr/bin/python3
"""Writes the Softmax layer's outputs and input gradients over one or several axes, computed by PyTorch, to softmax.json.

Run:  /usr/bin/python3 tests/reference/make_softmax_reference.py
CI does not run this; it reads the committed JSON.

Keras's Softmax(axis=(a, b)) normalises the values of the listed axes jointly: exp(x - logsumexp(x, axes)), which is
torch.exp(x - torch.logsumexp(x, dim=axes, keepdim=True)). Each case: axis, x, the output, an upstream gradient U and
d(sum(out * U))/dx.
"""
import json
import os

import torch

from reference_common import enc, randn

torch.manual_seed(31)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "softmax.json")
cases = []


def case(name, axis, shape, scale=2.0):
    x = randn(*shape, scale=scale).requires_grad_(True)
    dims = tuple(a % len(shape) for a in axis)
    y = torch.exp(x - torch.logsumexp(x, dim=dims, keepdim=True))
    upstream = randn(*y.shape)
    (y * upstream).sum().backward()
    cases.append({"name": name, "axis": axis, "x": enc(x), "output": enc(y), "upstream": enc(upstream), "grad": enc(x.grad)})


case("last_axis", [-1], (4, 6))
case("middle_axis", [1], (3, 5, 4))
case("grid", [1, 2], (2, 3, 4, 5))
case("first_and_last", [1, 3], (2, 3, 4, 5))
case("all_sample_axes", [1, 2, 3], (2, 2, 3, 4), scale=30.0)   # large logits: the max is subtracted first

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_softmax_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
