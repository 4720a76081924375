#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's merge layers to merging.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_merging_reference.py
CI does not run this; it reads the committed JSON.

Each case: a merge layer (Keras's semantics), its arguments, its inputs, the output, an upstream gradient U and the
gradient of sum(output * U) with respect to every input. Values are computed in float64 from float32 inputs and stored
as float32. Maximum and Minimum split the gradient evenly at ties, as torch.maximum does; the random inputs have none.
"""
import json
import os

import numpy
import torch
import torch.nn.functional as F

torch.manual_seed(1357)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "merging.json")
cases = []


def randn(*shape):
    return torch.randn(tuple(shape), dtype=torch.float64).float().double()


def enc(t):
    values = t.detach().reshape(-1).float().numpy().astype(numpy.float32)
    return {"shape": list(t.shape), "data": [float(str(v)) for v in values]}


def case(name, layer, args, shapes, f):
    xs = [randn(*s).requires_grad_(True) for s in shapes]
    out = f(*xs)
    upstream = randn(*out.shape)
    (out * upstream).sum().backward()
    cases.append({"name": name, "layer": layer, "args": args, "inputs": [enc(x) for x in xs],
                  "output": enc(out), "upstream": enc(upstream), "grads": [enc(x.grad) for x in xs]})


def fold(op):
    def f(*xs):
        r = xs[0]
        for x in xs[1:]:
            r = op(r, x)
        return r
    return f


def l2_normalize(x, axis):  # tf.math.l2_normalize: x / sqrt(max(sum(x^2), 1e-12))
    return x / torch.sqrt(torch.clamp((x * x).sum(axis, keepdim=True), min=1e-12))


case("add_three", "add", {}, [(4, 5)] * 3, fold(torch.add))
case("add_broadcast", "add", {}, [(3, 4), (3, 1)], fold(torch.add))
case("add_rank4", "add", {}, [(2, 3, 3, 2)] * 2, fold(torch.add))
case("subtract", "subtract", {}, [(4, 3)] * 2, fold(torch.sub))
case("multiply_three", "multiply", {}, [(3, 6)] * 3, fold(torch.mul))
case("average_three", "average", {}, [(5, 2)] * 3, lambda *xs: fold(torch.add)(*xs) / len(xs))
case("maximum_three", "maximum", {}, [(4, 4)] * 3, fold(torch.maximum))
case("minimum_two", "minimum", {}, [(3, 5)] * 2, fold(torch.minimum))
case("concatenate_last", "concatenate", {"axis": -1}, [(3, 2), (3, 4), (3, 1)], lambda *xs: torch.cat(xs, -1))
case("concatenate_axis1_rank3", "concatenate", {"axis": 1}, [(2, 3, 4), (2, 1, 4)], lambda *xs: torch.cat(xs, 1))
case("dot_rows", "dot", {"axes": [1], "normalize": False}, [(5, 4)] * 2, lambda a, b: (a * b).sum(1, keepdim=True))
case("dot_cosine", "dot", {"axes": [-1], "normalize": True}, [(5, 4)] * 2,
     lambda a, b: (l2_normalize(a, 1) * l2_normalize(b, 1)).sum(1, keepdim=True))
case("dot_batch_matmul", "dot", {"axes": [2, 1], "normalize": False}, [(2, 3, 4), (2, 4, 5)], torch.bmm)
case("dot_batch_axes11", "dot", {"axes": [1, 1], "normalize": False}, [(2, 4, 3), (2, 4, 5)],
     lambda a, b: torch.bmm(a.transpose(1, 2), b))
case("dot_batch_cosine", "dot", {"axes": [2, 2], "normalize": True}, [(2, 3, 4), (2, 5, 4)],
     lambda a, b: torch.bmm(l2_normalize(a, 2), l2_normalize(b, 2).transpose(1, 2)))

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_merging_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
