#!/usr/bin/python3
"""Writes Conv2D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D with data_format="channels_first" —
PyTorch's own (N, C, H, W) layout — as PyTorch computes them, to channels_first.json.

Run:  /usr/bin/python3 tests/reference/make_channels_first_reference.py
CI does not run this; it reads the committed JSON.

Keras keeps the kernel (kh, kw, in, out) whatever the data format; torch's weight is its permute(3, 2, 0, 1). Keras's
"same" with stride 1 and an odd kernel is torch's symmetric padding k // 2. Each case: the layer's arguments, x, the
weights in Keras's layout, the output, an upstream gradient U and the gradients of sum(out * U) with respect to x
and each weight.
"""
import json
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish, randn

torch.manual_seed(77)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "channels_first.json")
cases = []


def conv(name, x_shape, filters, kernel, strides=(1, 1), padding="valid", activation=None):
    x = randn(*x_shape).requires_grad_(True)
    k = randn(kernel[0], kernel[1], x_shape[1], filters, scale=0.4).requires_grad_(True)
    b = randn(filters, scale=0.3).requires_grad_(True)
    pad = (kernel[0] // 2, kernel[1] // 2) if padding == "same" else (0, 0)
    y = F.conv2d(x, k.permute(3, 2, 0, 1), b, stride=strides, padding=pad)
    if activation == "relu":
        y = torch.relu(y)
    entry = {"name": name, "layer": "Conv2D", "filters": filters, "kernel_size": list(kernel), "strides": list(strides),
             "padding": padding, "activation": activation or "linear", "x": enc(x), "weights": [enc(k), enc(b)]}
    finish(cases, entry, [x, k, b], y)


def pool(name, layer, x_shape, size, strides=None):
    x = randn(*x_shape).requires_grad_(True)
    strides = strides or size
    if layer == "MaxPooling2D":
        y = F.max_pool2d(x, size, strides)
    elif layer == "AveragePooling2D":
        y = F.avg_pool2d(x, size, strides)
    else:
        y = x.mean(dim=(2, 3))
    entry = {"name": name, "layer": layer, "pool_size": list(size), "strides": list(strides), "x": enc(x), "weights": []}
    finish(cases, entry, [x], y)


conv("conv_valid_strided_relu", (2, 3, 7, 6), 4, (3, 2), strides=(2, 1), activation="relu")
conv("conv_same", (2, 2, 5, 5), 3, (3, 3), padding="same")
pool("max_pool", "MaxPooling2D", (2, 3, 6, 5), (2, 2))
pool("average_pool_strided", "AveragePooling2D", (2, 2, 5, 6), (2, 3), (1, 2))
pool("global_average_pool", "GlobalAveragePooling2D", (3, 4, 3, 5), (1, 1))


def conv1d(name, x_shape, filters, kernel, stride=1, padding="valid"):
    x = randn(*x_shape).requires_grad_(True)
    k = randn(kernel, x_shape[1], filters, scale=0.4).requires_grad_(True)   # Keras's (k, in, out)
    b = randn(filters, scale=0.3).requires_grad_(True)
    y = F.conv1d(x, k.permute(2, 1, 0), b, stride=stride, padding=kernel // 2 if padding == "same" else 0)
    entry = {"name": name, "layer": "Conv1D", "filters": filters, "kernel_size": [kernel], "strides": [stride], "padding": padding,
             "activation": "linear", "x": enc(x), "weights": [enc(k), enc(b)]}
    finish(cases, entry, [x, k, b], y)


def pool1d(name, layer, x_shape, size=1, stride=1):
    x = randn(*x_shape).requires_grad_(True)
    y = {"MaxPooling1D": lambda: F.max_pool1d(x, size, stride), "AveragePooling1D": lambda: F.avg_pool1d(x, size, stride),
         "GlobalAveragePooling1D": lambda: x.mean(dim=2), "GlobalMaxPooling1D": lambda: x.amax(dim=2)}[layer]()
    entry = {"name": name, "layer": layer, "pool_size": [size], "strides": [stride], "x": enc(x), "weights": []}
    finish(cases, entry, [x], y)


# (N, C, L) sequences: Conv1D and the 1-D poolings with data_format="channels_first".
conv1d("conv1d_valid_strided", (2, 3, 9), 4, 3, stride=2)
conv1d("conv1d_same", (2, 2, 7), 3, 3, padding="same")
pool1d("max_pool1d", "MaxPooling1D", (2, 3, 8), 2, 2)
pool1d("average_pool1d", "AveragePooling1D", (2, 3, 7), 3, 1)
pool1d("global_average_pool1d", "GlobalAveragePooling1D", (3, 4, 5))
pool1d("global_max_pool1d", "GlobalMaxPooling1D", (3, 4, 5))

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_channels_first_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT}")
