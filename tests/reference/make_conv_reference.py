#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's convolutional layers to conv.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_conv_reference.py
CI does not run this; it reads the committed JSON.

Cortex is channels-last (NHWC) with Keras's kernel layout (kh, kw, in, out); PyTorch is NCHW with (out, in, kh, kw).
The leaves here are Cortex's layouts and the permutes happen inside the autograd graph, so every gradient comes back
in Cortex's layout. Keras's "same" padding (ceil(in / stride) outputs, the odd padding pixel at the bottom/right) is
applied with F.pad before the unpadded PyTorch op; same-padded max pooling pads with -inf, and same-padded average
pooling divides by the number of real pixels in each window (sum pool / count pool), as Keras does.

Each case: a layer ("conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "batch_norm"), its arguments, the
inputs, the output, an upstream gradient U and the gradient of sum(output * U) with respect to each input. Values are
computed in float64 from float32 inputs and stored as float32.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish as finish_case, randn

torch.manual_seed(4321)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv.json")
cases = []


def finish(entry, leaves, out):
    finish_case(cases, entry, leaves, out)


def same_pads(size, k, s, d):
    """Keras/TensorFlow "same": (before, after) padding of one spatial axis."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def pad_nchw(x, kh, kw, sh, sw, dh, dw, value=0.0):
    top, bottom = same_pads(x.shape[2], kh, sh, dh)
    left, right = same_pads(x.shape[3], kw, sw, dw)
    return F.pad(x, (left, right, top, bottom), value=value)


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def conv(name, n, h, w, cin, cout, k, strides=(1, 1), padding="valid", dilation=(1, 1), bias=True, activation="linear", fd=True):
    kh, kw = k
    x = randn(n, h, w, cin).requires_grad_(True)
    kernel = randn(kh, kw, cin, cout, scale=0.5).requires_grad_(True)
    leaves = [x, kernel]
    b = None
    if bias:
        b = randn(cout, scale=0.5).requires_grad_(True)
        leaves.append(b)
    xi = nchw(x)
    if padding == "same":
        xi = pad_nchw(xi, kh, kw, strides[0], strides[1], dilation[0], dilation[1])
    y = F.conv2d(xi.contiguous(), kernel.permute(3, 2, 0, 1).contiguous(), b, stride=strides, dilation=dilation)
    if activation == "relu":
        y = torch.relu(y)
    out = nhwc(y)
    entry = {"name": name, "layer": "conv2d", "fd": fd,
             "args": {"filters": cout, "kernel_size": list(k), "strides": list(strides), "padding": padding,
                      "dilation_rate": list(dilation), "use_bias": bias, "activation": activation},
             "inputs": [enc(t) for t in leaves]}
    finish(entry, leaves, out)


def pool(name, kind, n, h, w, c, p, strides, padding, fd=True, ties=False):
    # ties: whole numbers 0-2, so most windows hold their maximum more than once (the gradient goes to the first).
    x = (torch.randint(0, 3, (n, h, w, c)).float() if ties else randn(n, h, w, c)).requires_grad_(True)
    xi = nchw(x)
    if kind == "max":
        if padding == "same":
            xi = pad_nchw(xi, p[0], p[1], strides[0], strides[1], 1, 1, value=-math.inf)
        y = F.max_pool2d(xi, p, strides)
    else:
        if padding == "same":
            ones = torch.ones_like(xi)
            total = F.avg_pool2d(pad_nchw(xi, p[0], p[1], strides[0], strides[1], 1, 1), p, strides)
            count = F.avg_pool2d(pad_nchw(ones, p[0], p[1], strides[0], strides[1], 1, 1), p, strides)
            y = total / count
        else:
            y = F.avg_pool2d(xi, p, strides)
    entry = {"name": name, "layer": f"{kind}_pool2d", "fd": fd,
             "args": {"pool_size": list(p), "strides": list(strides), "padding": padding},
             "inputs": [enc(x)]}
    finish(entry, [x], nhwc(y))


def global_avg(name, n, h, w, c, keepdims=False):
    x = randn(n, h, w, c).requires_grad_(True)
    y = x.mean(dim=(1, 2), keepdim=keepdims)
    entry = {"name": name, "layer": "global_avg_pool2d", "fd": True, "args": {"keepdims": keepdims}, "inputs": [enc(x)]}
    finish(entry, [x], y)


def batch_norm(name, shape, axis=-1, training=True, momentum=0.99, epsilon=1e-3, center=True, scale=True):
    x = randn(*shape, scale=2.0) + 0.5
    x.requires_grad_(True)
    a = axis % len(shape)
    c = shape[a]
    gamma = (randn(c, scale=0.5) + 1.0).requires_grad_(True)
    beta = randn(c, scale=0.5).requires_grad_(True)
    moving_mean = randn(c, scale=0.3)
    moving_var = randn(c, scale=0.3).abs() + 0.5
    leaves = [x] + ([gamma] if scale else []) + ([beta] if center else [])
    xi = x.movedim(a, 1)
    y = F.batch_norm(xi, moving_mean.clone(), moving_var.clone(), gamma if scale else None, beta if center else None,
                     training=training, eps=epsilon).movedim(1, a)
    entry = {"name": name, "layer": "batch_norm", "fd": True,
             "args": {"axis": axis, "training": training, "momentum": momentum, "epsilon": epsilon, "center": center, "scale": scale},
             "inputs": [enc(t) for t in leaves], "moving_mean": enc(moving_mean), "moving_variance": enc(moving_var)}
    if training:
        # Keras's update uses the biased batch variance (PyTorch's own running_var would use the unbiased one).
        dims = [d for d in range(len(shape)) if d != a]
        with torch.no_grad():
            entry["moving_mean_after"] = enc(moving_mean * momentum + x.mean(dim=dims) * (1 - momentum))
            entry["moving_variance_after"] = enc(moving_var * momentum + x.var(dim=dims, unbiased=False) * (1 - momentum))
    finish(entry, leaves, y)


# Conv2D: padding, strides, dilation, channel counts, bias, odd shapes.
conv("conv_valid_s1", 2, 6, 6, 3, 4, (3, 3))
conv("conv_same_s1", 2, 6, 6, 3, 4, (3, 3), padding="same")
conv("conv_valid_s2", 2, 7, 7, 3, 4, (3, 3), strides=(2, 2))
conv("conv_same_s2_even", 2, 6, 6, 2, 3, (3, 3), strides=(2, 2), padding="same")   # pads 0 top, 1 bottom
conv("conv_same_s2_odd", 2, 7, 5, 2, 3, (3, 3), strides=(2, 2), padding="same")
conv("conv_same_k4_s1", 1, 6, 6, 2, 3, (4, 4), padding="same")                     # pads 1 top, 2 bottom
conv("conv_dilation2_valid", 2, 7, 7, 2, 3, (3, 3), dilation=(2, 2))
conv("conv_dilation2_same", 1, 6, 7, 2, 3, (3, 3), padding="same", dilation=(2, 2))
conv("conv_one_channel_no_bias", 2, 6, 6, 1, 5, (3, 3), bias=False)
conv("conv_many_channels", 1, 5, 5, 8, 16, (3, 3))
conv("conv_to_one_filter", 2, 5, 5, 5, 1, (2, 2))
conv("conv_rect_kernel_strides", 2, 6, 7, 3, 2, (2, 3), strides=(1, 2))
conv("conv_1x1", 2, 4, 4, 3, 5, (1, 1))
conv("conv_1x1_s2_same", 1, 5, 5, 3, 2, (1, 1), strides=(2, 2), padding="same")
conv("conv_relu_same_s2_no_bias", 2, 6, 6, 3, 4, (3, 3), strides=(2, 2), padding="same", bias=False, activation="relu", fd=False)
conv("conv_kernel_equals_input", 1, 3, 3, 2, 2, (3, 3))

# Pooling.
pool("max_valid_2", "max", 2, 6, 6, 3, (2, 2), (2, 2), "valid")
pool("max_valid_3_s2", "max", 2, 7, 7, 3, (3, 3), (2, 2), "valid")
pool("max_valid_odd_input", "max", 1, 5, 7, 2, (2, 2), (2, 2), "valid")
pool("max_same_3_s2", "max", 2, 6, 6, 3, (3, 3), (2, 2), "same")
pool("max_same_2_s1", "max", 1, 5, 5, 2, (2, 2), (1, 1), "same")
pool("max_rect_s21", "max", 1, 6, 6, 2, (2, 3), (2, 1), "valid")
pool("avg_valid_2", "avg", 2, 6, 6, 3, (2, 2), (2, 2), "valid")
pool("avg_valid_3_s1", "avg", 1, 5, 5, 2, (3, 3), (1, 1), "valid")
pool("avg_same_3_s2", "avg", 2, 6, 6, 3, (3, 3), (2, 2), "same")
pool("avg_same_2_s2_odd", "avg", 1, 5, 5, 2, (2, 2), (2, 2), "same")
pool("avg_same_3_s1", "avg", 1, 4, 5, 2, (3, 3), (1, 1), "same")
global_avg("gap", 2, 4, 5, 3)
global_avg("gap_keepdims", 2, 3, 3, 4, keepdims=True)

# BatchNormalization: training (batch statistics, moving-average update) and inference (moving statistics).
batch_norm("bn_train_nhwc", (3, 4, 4, 3))
batch_norm("bn_infer_nhwc", (3, 4, 4, 3), training=False)
batch_norm("bn_train_dense", (8, 5))
batch_norm("bn_infer_dense", (8, 5), training=False)
batch_norm("bn_train_axis1", (4, 3, 5), axis=1, momentum=0.9, epsilon=1e-2)
batch_norm("bn_train_no_center_no_scale", (6, 4), center=False, scale=False)
batch_norm("bn_train_no_scale", (2, 3, 3, 2), scale=False)
batch_norm("bn_infer_no_center", (6, 4), training=False, center=False)

# Max pooling with tied maxima over 13 channels: Cortex routes eight channels at a time, then four, then one by one
# (four at a time, then one by one, on the 128-bit path), and each lane must pick the first tied position as PyTorch
# does. (After the other cases, so their random inputs stay as they were.)
pool("max_ties_13_channels", "max", 2, 6, 6, 13, (2, 2), (2, 2), "valid", fd=False, ties=True)
pool("max_ties_overlap_13_channels", "max", 1, 5, 6, 13, (3, 3), (1, 1), "valid", fd=False, ties=True)

# 3×3 stride-1 convolutions with 8 or more channels and filters and 128 or more 2×2 output tiles over the batch run
# Winograd's F(2×2, 3×3) (src/Cortex/Kernels/Winograd.cs): odd and even output sides (tiles overhanging the output),
# one output row, channel counts that are not a multiple of any vector width, "same" and "valid". (After the other
# cases, so their random inputs stay as they were.)
conv("conv_winograd_same", 2, 15, 17, 12, 10, (3, 3), padding="same")
conv("conv_winograd_valid_odd", 8, 10, 9, 9, 8, (3, 3))
conv("conv_winograd_one_row", 40, 3, 16, 8, 9, (3, 3), bias=False)
conv("conv_winograd_resnet_block", 3, 13, 13, 16, 17, (3, 3), padding="same", activation="relu", fd=False)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_conv_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
