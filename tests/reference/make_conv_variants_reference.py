#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's convolution variants to conv_variants.json: DepthwiseConv2D,
Conv2D(groups), SeparableConv2D and Conv2DTranspose.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_conv_variants_reference.py
CI does not run this; it reads the committed JSON.

The leaves are Cortex's (Keras's) layouts, NHWC images, and the permutes to PyTorch's NCHW happen inside the autograd
graph, so every gradient comes back in Keras's layout:
- depthwise kernel (kh, kw, C, M) -> F.conv2d weight (C*M, 1, kh, kw) with groups=C (output channel c*M + m);
- grouped kernel (kh, kw, C/g, F) -> weight (F, C/g, kh, kw) with groups=g;
- separable: the depthwise step without bias, then a 1x1 conv with pointwise kernel (1, 1, C*M, F) and the bias;
- transposed kernel (kh, kw, F, C) -> F.conv_transpose2d weight (C, F, kh, kw); the full transposed convolution is
  then cropped (or zero-extended) to Keras's output size, starting at the padding TensorFlow's "same" convolution of
  that size would put before it.
Keras's "same" padding of a convolution (ceil(in / stride) outputs, the odd pixel at the bottom/right) is applied with
F.pad, as make_conv_reference.py does. Values are computed in float64 from float32 inputs and stored as float32.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from reference_common import enc, finish as finish_case, randn

torch.manual_seed(2468)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_variants.json")
cases = []


def same_pads(size, k, s, d):
    """Keras/TensorFlow "same": (before, after) padding of one spatial axis."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def padded(x, padding, k, strides, dilation):
    """x (NCHW) padded as Keras's "same" convolution would, or as it is for "valid"."""
    if padding != "same":
        return x
    top, bottom = same_pads(x.shape[2], k[0], strides[0], dilation[0])
    left, right = same_pads(x.shape[3], k[1], strides[1], dilation[1])
    return F.pad(x, (left, right, top, bottom))


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def activate(y, activation):
    return torch.relu(y) if activation == "relu" else y


def args(k, strides, padding, dilation, bias, activation, **more):
    return {"kernel_size": list(k), "strides": list(strides), "padding": padding, "dilation_rate": list(dilation),
            "use_bias": bias, "activation": activation, **more}


def depthwise(name, n, h, w, c, mult, k, strides=(1, 1), padding="valid", dilation=(1, 1), bias=True, activation="linear", fd=True):
    x = randn(n, h, w, c).requires_grad_(True)
    kernel = randn(k[0], k[1], c, mult, scale=0.5).requires_grad_(True)
    leaves = [x, kernel]
    b = None
    if bias:
        b = randn(c * mult, scale=0.5).requires_grad_(True)
        leaves.append(b)
    weight = kernel.reshape(k[0], k[1], c * mult).permute(2, 0, 1).unsqueeze(1)
    y = F.conv2d(padded(nchw(x), padding, k, strides, dilation), weight, b, stride=strides, dilation=dilation, groups=c)
    entry = {"name": name, "layer": "depthwise", "fd": fd, "args": args(k, strides, padding, dilation, bias, activation, depth_multiplier=mult),
             "inputs": [enc(t) for t in leaves]}
    finish_case(cases, entry, leaves, nhwc(activate(y, activation)))


def grouped(name, n, h, w, c, filters, groups, k, strides=(1, 1), padding="valid", dilation=(1, 1), bias=True, activation="linear", fd=True):
    x = randn(n, h, w, c).requires_grad_(True)
    kernel = randn(k[0], k[1], c // groups, filters, scale=0.5).requires_grad_(True)
    leaves = [x, kernel]
    b = None
    if bias:
        b = randn(filters, scale=0.5).requires_grad_(True)
        leaves.append(b)
    y = F.conv2d(padded(nchw(x), padding, k, strides, dilation), kernel.permute(3, 2, 0, 1), b, stride=strides, dilation=dilation, groups=groups)
    entry = {"name": name, "layer": "grouped", "fd": fd,
             "args": args(k, strides, padding, dilation, bias, activation, filters=filters, groups=groups),
             "inputs": [enc(t) for t in leaves]}
    finish_case(cases, entry, leaves, nhwc(activate(y, activation)))


def separable(name, n, h, w, c, filters, mult, k, strides=(1, 1), padding="valid", dilation=(1, 1), bias=True, activation="linear", fd=True):
    x = randn(n, h, w, c).requires_grad_(True)
    dk = randn(k[0], k[1], c, mult, scale=0.5).requires_grad_(True)
    pk = randn(1, 1, c * mult, filters, scale=0.5).requires_grad_(True)
    leaves = [x, dk, pk]
    b = None
    if bias:
        b = randn(filters, scale=0.5).requires_grad_(True)
        leaves.append(b)
    weight = dk.reshape(k[0], k[1], c * mult).permute(2, 0, 1).unsqueeze(1)
    mid = F.conv2d(padded(nchw(x), padding, k, strides, dilation), weight, None, stride=strides, dilation=dilation, groups=c)
    y = F.conv2d(mid, pk.permute(3, 2, 0, 1), b)
    entry = {"name": name, "layer": "separable", "fd": fd,
             "args": args(k, strides, padding, dilation, bias, activation, filters=filters, depth_multiplier=mult),
             "inputs": [enc(t) for t in leaves]}
    finish_case(cases, entry, leaves, nhwc(activate(y, activation)))


def transpose_axis(size, k, s, d, padding, output_padding):
    """Keras's deconv_output_length, and the padding before the output within the full transposed convolution."""
    extent = (k - 1) * d + 1
    if output_padding is None:
        length = size * s if padding == "same" else size * s + max(extent - s, 0)
    else:
        length = (size - 1) * s + extent - 2 * (extent // 2 if padding == "same" else 0) + output_padding
    before = max((size - 1) * s + extent - length, 0) // 2 if padding == "same" else 0
    return length, before


def transpose(name, n, h, w, c, filters, k, strides=(1, 1), padding="valid", output_padding=None, dilation=(1, 1), bias=True,
              activation="linear", fd=True):
    x = randn(n, h, w, c).requires_grad_(True)
    kernel = randn(k[0], k[1], filters, c, scale=0.5).requires_grad_(True)
    leaves = [x, kernel]
    b = None
    if bias:
        b = randn(filters, scale=0.5).requires_grad_(True)
        leaves.append(b)
    full = F.conv_transpose2d(nchw(x), kernel.permute(3, 2, 0, 1), None, stride=strides, dilation=dilation)
    oh, top = transpose_axis(h, k[0], strides[0], dilation[0], padding, None if output_padding is None else output_padding[0])
    ow, left = transpose_axis(w, k[1], strides[1], dilation[1], padding, None if output_padding is None else output_padding[1])
    y = F.pad(full, (-left, ow + left - full.shape[3], -top, oh + top - full.shape[2]))
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    entry = {"name": name, "layer": "transpose", "fd": fd,
             "args": args(k, strides, padding, dilation, bias, activation, filters=filters,
                          output_padding=None if output_padding is None else list(output_padding)),
             "inputs": [enc(t) for t in leaves]}
    finish_case(cases, entry, leaves, nhwc(activate(y, activation)))


depthwise("dw_valid", 2, 5, 6, 3, 1, (3, 3))
depthwise("dw_mult2_same", 2, 5, 5, 3, 2, (3, 3), padding="same")
depthwise("dw_mult3_s2_same_even", 1, 6, 6, 2, 3, (3, 3), strides=(2, 2), padding="same")
depthwise("dw_rect_strides_no_bias", 2, 6, 7, 4, 1, (2, 3), strides=(1, 2), bias=False)
depthwise("dw_dilation2", 1, 7, 7, 2, 2, (3, 3), dilation=(2, 2))
depthwise("dw_one_channel", 2, 5, 5, 1, 3, (3, 3))
depthwise("dw_relu", 2, 5, 5, 3, 2, (3, 3), padding="same", activation="relu", fd=False)

grouped("grouped_2", 2, 5, 5, 4, 6, 2, (3, 3))
grouped("grouped_3_same_s2", 1, 6, 6, 6, 3, 3, (3, 3), strides=(2, 2), padding="same")
grouped("grouped_full_depthwise", 2, 5, 5, 3, 6, 3, (2, 2), bias=False)
grouped("grouped_2_1x1", 2, 4, 4, 4, 4, 2, (1, 1))
grouped("grouped_2_dilation", 1, 7, 6, 4, 2, 2, (3, 2), dilation=(2, 1), padding="same")
grouped("grouped_relu", 2, 5, 5, 4, 4, 4, (3, 3), activation="relu", fd=False)

separable("sep_valid", 2, 5, 5, 3, 4, 1, (3, 3))
separable("sep_mult2_same_s2", 1, 6, 6, 2, 3, 2, (3, 3), strides=(2, 2), padding="same")
separable("sep_no_bias_dilation", 2, 7, 7, 3, 2, 1, (3, 3), dilation=(2, 2), bias=False)
separable("sep_one_channel", 2, 5, 5, 1, 3, 2, (2, 2))
separable("sep_relu", 2, 5, 5, 2, 3, 1, (3, 3), padding="same", activation="relu", fd=False)

transpose("tr_valid_s1", 2, 4, 4, 3, 2, (3, 3))
transpose("tr_valid_s2", 2, 3, 4, 2, 3, (3, 3), strides=(2, 2))
transpose("tr_same_s2", 2, 3, 3, 3, 2, (3, 3), strides=(2, 2), padding="same")
transpose("tr_same_s2_k4", 1, 3, 4, 2, 2, (4, 4), strides=(2, 2), padding="same")
transpose("tr_valid_k1_s3", 1, 3, 3, 2, 2, (1, 1), strides=(3, 3))            # kernel smaller than stride: gaps
transpose("tr_valid_s2_output_padding", 2, 3, 3, 2, 2, (3, 3), strides=(2, 2), output_padding=(1, 0))
transpose("tr_same_s2_output_padding", 1, 3, 3, 2, 3, (3, 3), strides=(2, 2), padding="same", output_padding=(0, 1))
transpose("tr_dilation2_no_bias", 2, 3, 3, 2, 2, (2, 3), dilation=(2, 2), bias=False)
transpose("tr_rect_strides_same", 1, 4, 3, 3, 2, (2, 3), strides=(1, 2), padding="same")
transpose("tr_relu", 2, 3, 3, 2, 2, (3, 3), strides=(2, 2), padding="same", activation="relu", fd=False)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_conv_variants_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
