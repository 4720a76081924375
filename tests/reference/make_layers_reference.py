#!/usr/bin/python3
"""Writes PyTorch's values and gradients for Cortex's image-shape and normalisation layers to layers.json.

Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_layers_reference.py
CI does not run this; it reads the committed JSON.

Cortex keeps Keras's channels-last layouts; PyTorch's image ops are channels first, so the leaves are channels last
and the permutes happen inside the autograd graph (every gradient comes back in Cortex's layout). Keras's epsilon
(1e-3) is passed explicitly: PyTorch's LayerNorm and GroupNorm default to 1e-5.

Each case: a layer ("zero_padding2d", "cropping2d", "up_sampling2d", "layer_normalization", "group_normalization"),
its arguments (Keras's names), the inputs (x, then gamma and beta where the layer has them, in Keras's weight order),
the output, an upstream gradient U and the gradient of sum(output * U) with respect to each input. Values are computed
in float64 from float32 inputs and stored as float32.
"""
import json
import os

import torch
import torch.nn.functional as F

from reference_common import finish as finish_case, enc, randn

torch.manual_seed(2468)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.json")
cases = []


def leaf(*shape, scale=1.0):
    return randn(*shape, scale=scale).requires_grad_(True)


def finish(name, layer, args, leaves, out):
    finish_case(cases, {"name": name, "layer": layer, "args": args, "inputs": [enc(t) for t in leaves]}, leaves, out)


def margins(m):
    """Keras's forms (int, (h, w), ((top, bottom), (left, right))) as (top, bottom, left, right)."""
    if isinstance(m, int):
        return m, m, m, m
    if isinstance(m[0], int):
        return m[0], m[0], m[1], m[1]
    return m[0][0], m[0][1], m[1][0], m[1][1]


def zero_padding(name, shape, padding):
    x = leaf(*shape)
    t, b, l, r = margins(padding)
    finish(name, "zero_padding2d", {"padding": padding}, [x], F.pad(x, (0, 0, l, r, t, b)))


def cropping(name, shape, crop):
    x = leaf(*shape)
    t, b, l, r = margins(crop)
    finish(name, "cropping2d", {"cropping": crop}, [x], x[:, t:shape[1] - b, l:shape[2] - r, :])


def up_sampling(name, shape, size, interpolation):
    x = leaf(*shape)
    sh, sw = (size, size) if isinstance(size, int) else size
    kw = {} if interpolation == "nearest" else {"align_corners": False}
    y = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=(sh, sw), mode=interpolation, **kw).permute(0, 2, 3, 1)
    finish(name, "up_sampling2d", {"size": [sh, sw], "interpolation": interpolation}, [x], y)


def layer_norm(name, shape, axis=(-1,), epsilon=1e-3, center=True, scale=True):
    """Keras's LayerNormalization over the listed axes together: γ and β have the axes' sizes in the order listed,
    and Keras reshapes (not transposes) them onto the axes in ascending order."""
    x = leaf(*shape, scale=2.0)
    axes = sorted(a % len(shape) for a in axis)
    keras_shape = [shape[a % len(shape)] for a in axis]
    dims = [shape[a] for a in axes]
    gamma = leaf(*keras_shape) if scale else None
    beta = leaf(*keras_shape) if center else None
    last = list(range(len(shape) - len(axes), len(shape)))
    moved = x.movedim(axes, last)   # F.layer_norm normalises the trailing axes
    y = F.layer_norm(moved, dims, None if gamma is None else gamma.reshape(dims), None if beta is None else beta.reshape(dims),
                     eps=epsilon).movedim(last, axes)
    leaves = [x] + [w for w in (gamma, beta) if w is not None]
    finish(name, "layer_normalization", {"axis": list(axis), "epsilon": epsilon, "center": center, "scale": scale}, leaves, y)


def group_norm(name, shape, groups, epsilon=1e-3, center=True, scale=True):
    x = leaf(*shape, scale=2.0)
    c = shape[-1]
    gamma = leaf(c) if scale else None
    beta = leaf(c) if center else None
    first = x.movedim(-1, 1)   # torch.nn.GroupNorm is channels first
    y = F.group_norm(first, groups, gamma, beta, eps=epsilon).movedim(1, -1)
    leaves = [x] + [w for w in (gamma, beta) if w is not None]
    finish(name, "group_normalization", {"groups": groups, "epsilon": epsilon, "center": center, "scale": scale}, leaves, y)


zero_padding("zero_padding_int", (2, 3, 4, 2), 1)
zero_padding("zero_padding_pair", (2, 3, 2, 3), [2, 1])
zero_padding("zero_padding_sides", (1, 2, 3, 2), [[0, 1], [2, 3]])
cropping("cropping_int", (2, 5, 6, 2), 1)
cropping("cropping_pair", (2, 6, 5, 3), [2, 1])
cropping("cropping_sides", (1, 6, 7, 2), [[0, 2], [3, 1]])
up_sampling("up_sampling_nearest_2", (2, 3, 2, 3), 2, "nearest")
up_sampling("up_sampling_nearest_2x3", (1, 2, 3, 2), [2, 3], "nearest")
up_sampling("up_sampling_bilinear_2", (2, 3, 4, 2), 2, "bilinear")
up_sampling("up_sampling_bilinear_3x2", (1, 4, 3, 2), [3, 2], "bilinear")
layer_norm("layer_norm_rows", (4, 6))
layer_norm("layer_norm_sequence", (2, 3, 5))
layer_norm("layer_norm_axis1", (2, 4, 3), axis=[1])
layer_norm("layer_norm_axes_12", (2, 3, 2, 4), axis=[1, 2])
layer_norm("layer_norm_image_all", (2, 3, 2, 4), axis=[1, 2, 3])
layer_norm("layer_norm_axes_unsorted", (2, 3, 2, 4), axis=[3, 1])
layer_norm("layer_norm_image_eps", (2, 3, 2, 4), epsilon=1e-5)
layer_norm("layer_norm_no_center", (3, 5), center=False)
layer_norm("layer_norm_no_scale", (3, 5), scale=False)
group_norm("group_norm_image", (2, 3, 4, 6), groups=3)
group_norm("group_norm_sequence", (2, 5, 8), groups=4)
group_norm("group_norm_one_group", (2, 2, 3, 4), groups=1)
group_norm("group_norm_instance", (2, 3, 3, 4), groups=4)
group_norm("group_norm_rows", (3, 6), groups=2, epsilon=1e-5)
group_norm("group_norm_no_center", (2, 3, 4), groups=2, center=False)

with open(OUT, "w") as f:
    json.dump({"generator": "tests/reference/make_layers_reference.py", "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {OUT} ({os.path.getsize(OUT)} bytes)")
