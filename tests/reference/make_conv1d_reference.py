#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's 1-D convolution and pooling layers to conv1d.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_conv1d_reference.py
CI does not run this; it reads the committed JSON.

Cortex keeps Keras's layouts: sequences are (batch, steps, channels) and a Conv1D kernel is (k, in, out); PyTorch is
(batch, channels, steps) with (out, in, k). The leaves are Cortex's layouts and the permutes happen inside the autograd
graph, so every gradient comes back in Cortex's layout. Keras's "same" padding (ceil(steps / stride) outputs, the odd
padding step on the right) and "causal" padding (dilation·(k − 1) steps on the left) are applied with F.pad before the
unpadded PyTorch op; same-padded max pooling pads with -inf, and same-padded average pooling divides by the number of
real steps in each window (sum pool / count pool), as Keras does.

Each case: a layer ("conv1d", "max_pool1d", "avg_pool1d", "global_max_pool1d", "global_avg_pool1d"), its arguments,
the inputs (x, then the kernel and bias), the output, an upstream gradient U and the gradient of sum(output * U) with
respect to each input. Values are computed in float64 from float32 inputs and stored as float32.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish as finish_case, randn

torch.manual_seed(1357)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv1d.json")
cases = []


def finish(entry, leaves, out):
    finish_case(cases, entry, leaves, out)


def pads(padding, steps, k, s, d):
    """(left, right) padding of the steps axis, as Keras computes it."""
    if padding == "causal":
        return d * (k - 1), 0
    if padding == "same":
        out = math.ceil(steps / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - steps, 0)
        return total // 2, total - total // 2
    return 0, 0


def conv(name, n, steps, cin, cout, k, strides=1, padding="valid", dilation=1, bias=True, activation="linear", fd=True):
    x = randn(n, steps, cin).requires_grad_(True)
    kernel = randn(k, cin, cout, scale=0.5).requires_grad_(True)
    leaves = [x, kernel]
    b = None
    if bias:
        b = randn(cout, scale=0.5).requires_grad_(True)
        leaves.append(b)
    xi = F.pad(x.permute(0, 2, 1), pads(padding, steps, k, strides, dilation))
    y = F.conv1d(xi.contiguous(), kernel.permute(2, 1, 0).contiguous(), b, stride=strides, dilation=dilation)
    if activation == "relu":
        y = torch.relu(y)
    entry = {"name": name, "layer": "conv1d", "fd": fd,
             "args": {"filters": cout, "kernel_size": k, "strides": strides, "padding": padding,
                      "dilation_rate": dilation, "use_bias": bias, "activation": activation},
             "inputs": [enc(t) for t in leaves]}
    finish(entry, leaves, y.permute(0, 2, 1))


def distinct(n, steps, c):
    """Values at least 0.05 apart, so no max is within a finite-difference step of another value in its window."""
    return ((torch.randperm(n * steps * c).double() - n * steps * c / 2) * 0.05).reshape(n, steps, c)


def pool(name, kind, n, steps, c, p, strides, padding):
    x = (distinct(n, steps, c) if kind == "max" else randn(n, steps, c)).requires_grad_(True)
    xi = x.permute(0, 2, 1)
    padded = pads(padding, steps, p, strides, 1)
    if kind == "max":
        y = F.max_pool1d(F.pad(xi, padded, value=-math.inf), p, strides)
    else:
        total = F.avg_pool1d(F.pad(xi, padded), p, strides)
        count = F.avg_pool1d(F.pad(torch.ones_like(xi), padded), p, strides)
        y = total / count
    entry = {"name": name, "layer": f"{kind}_pool1d", "fd": True,
             "args": {"pool_size": p, "strides": strides, "padding": padding}, "inputs": [enc(x)]}
    finish(entry, [x], y.permute(0, 2, 1))


def global_pool(name, kind, n, steps, c, keepdims=False):
    x = (distinct(n, steps, c) if kind == "max" else randn(n, steps, c)).requires_grad_(True)
    y = x.amax(dim=1, keepdim=keepdims) if kind == "max" else x.mean(dim=1, keepdim=keepdims)
    entry = {"name": name, "layer": f"global_{kind}_pool1d", "fd": True, "args": {"keepdims": keepdims}, "inputs": [enc(x)]}
    finish(entry, [x], y)


# Conv1D: padding (valid, same, causal), strides, dilation, bias, activation, channel counts.
conv("conv1d_valid", 2, 7, 3, 4, 3)
conv("conv1d_same", 2, 7, 3, 4, 3, padding="same")
conv("conv1d_same_k4_s2", 2, 8, 2, 3, 4, strides=2, padding="same")        # pads 1 left, 2 right
conv("conv1d_causal", 2, 6, 3, 2, 3, padding="causal")
conv("conv1d_causal_dilation2", 1, 9, 2, 3, 3, padding="causal", dilation=2)
conv("conv1d_causal_s2", 2, 7, 2, 2, 2, strides=2, padding="causal")
conv("conv1d_valid_s2", 2, 9, 3, 2, 3, strides=2)
conv("conv1d_dilation3_valid", 1, 10, 2, 3, 3, dilation=3)
conv("conv1d_same_dilation2", 1, 7, 2, 2, 3, padding="same", dilation=2)
conv("conv1d_no_bias", 2, 5, 1, 5, 2, bias=False)
conv("conv1d_k1", 2, 4, 3, 5, 1)
conv("conv1d_relu_causal", 2, 6, 3, 4, 3, padding="causal", activation="relu", fd=False)
conv("conv1d_many_channels", 1, 5, 8, 16, 3)

# Windowed poolings.
pool("max1d_valid_2", "max", 2, 6, 3, 2, 2, "valid")
pool("max1d_valid_3_s2_odd", "max", 2, 7, 3, 3, 2, "valid")
pool("max1d_same_3_s2", "max", 2, 6, 3, 3, 2, "same")
pool("max1d_same_2_s1", "max", 1, 5, 8, 2, 1, "same")
pool("avg1d_valid_2", "avg", 2, 6, 3, 2, 2, "valid")
pool("avg1d_valid_3_s1", "avg", 1, 5, 2, 3, 1, "valid")
pool("avg1d_same_3_s2", "avg", 2, 6, 3, 3, 2, "same")
pool("avg1d_same_2_s2_odd", "avg", 1, 5, 2, 2, 2, "same")

# Global poolings.
global_pool("global_max1d", "max", 2, 5, 3)
global_pool("global_max1d_keepdims", "max", 2, 4, 8, keepdims=True)
global_pool("global_avg1d", "avg", 2, 5, 3)
global_pool("global_avg1d_keepdims", "avg", 3, 3, 4, keepdims=True)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_conv1d_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
